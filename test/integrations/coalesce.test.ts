import { describe, expect, it } from "vitest";
import { coalesce } from "../../integrations/coalesce.ts";

/** A bulk lookup that answers when told to, recording each batch: negative keys are left out, 13 fails alone. */
function controlledBulk() {
  const batches: number[][] = [];
  const pending: (() => void)[] = [];
  const bulk = (keys: number[]) => {
    batches.push(keys);
    return new Promise<Map<number, string | Error>>((resolve) =>
      pending.push(() => resolve(new Map(keys.filter((k) => k >= 0).map((k) => [k, k === 13 ? new Error("thirteen") : `v${k}`])))),
    );
  };
  const answerAll = async () => {
    while (pending.length > 0) {
      for (const answer of pending.splice(0)) answer();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { bulk, batches, answerAll };
}

describe("coalesce", () => {
  it("coalesce - lookups leave at once up to maxInFlight; the rest wait and leave together, at most maxBatch a call", async () => {
    const { bulk, batches, answerAll } = controlledBulk();
    const lookup = coalesce(bulk, { maxInFlight: 2, maxBatch: 5 });
    const answers = Promise.allSettled(Array.from({ length: 14 }, (_, k) => lookup(k)));
    expect(batches).toEqual([[0], [1]]);
    await answerAll();
    expect(batches).toEqual([[0], [1], [2, 3, 4, 5, 6], [7, 8, 9, 10, 11], [12, 13]]);
    const settled = await answers;
    expect(settled.slice(0, 13)).toEqual(Array.from({ length: 13 }, (_, k) => ({ status: "fulfilled", value: `v${k}` })));
    expect(settled[13]).toMatchObject({ status: "rejected", reason: { message: "thirteen" } });
  });

  it("coalesce - equal keys waiting together take one slot and all get its answer; a key left out fails", async () => {
    const { bulk, batches, answerAll } = controlledBulk();
    const lookup = coalesce(bulk, { maxInFlight: 1, maxBatch: 10 });
    const answers = Promise.allSettled([lookup(1), lookup(7), lookup(7), lookup(-1), lookup(7)]);
    await answerAll();
    expect(batches).toEqual([[1], [7, -1]]);
    const settled = await answers;
    expect(settled.map((s) => (s.status === "fulfilled" ? s.value : "failed"))).toEqual(["v1", "v7", "v7", "failed", "v7"]);
  });

  it("coalesce - a failed bulk call fails its own batch only, and the next lookups are sent", async () => {
    let calls = 0;
    const lookup = coalesce(
      async (keys: string[]) => {
        calls++;
        if (keys.includes("boom")) throw new Error("partner down");
        return new Map(keys.map((k) => [k, k.length]));
      },
      { maxInFlight: 1, maxBatch: 10 },
    );
    const first = lookup("boom");
    const waiting = [lookup("ab"), lookup("abc")];
    await expect(first).rejects.toThrow("partner down");
    expect(await Promise.all(waiting)).toEqual([2, 3]);
    expect(await lookup("boom!").catch(() => "failed")).toBe(5);
    expect(calls).toBe(3);
  });
});
