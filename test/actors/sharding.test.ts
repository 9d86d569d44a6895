import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { assignShards, shardOf } from "../../actors/cluster/sharding.ts";

const count = (owners: string[]) => owners.reduce((m, o) => m.set(o, (m.get(o) ?? 0) + 1), new Map<string, number>());

describe("sharding", () => {
  it("an address always maps to the same shard within range", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 1, max: 1024 }), (type, id, shards) => {
        const s = shardOf({ type, id }, shards);
        expect(s).toBe(shardOf({ type, id }, shards));
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThan(shards);
      }),
    );
  });

  it("shards are spread within one of even over any set of members, whatever their order", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 9 }), (members) => {
        const owners = assignShards(members, 256);
        expect(owners).toEqual(assignShards([...members].reverse(), 256));
        const counts = [...count(owners).values()];
        expect(counts.length).toBe(members.length);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("adding a member moves about 1/N of the shards, and only to the newcomer", () => {
    const before = assignShards(["a", "b", "c"], 256);
    const after = assignShards(["a", "b", "c", "d"], 256);
    const moved = before.filter((o, i) => o !== after[i]).length;
    expect(moved).toBeGreaterThanOrEqual(64);
    expect(moved).toBeLessThanOrEqual(64 * 1.5);
    // Rebalancing to exact quotas shuffles a few shards between the old members too; not many.
    expect(after.filter((o, i) => o !== before[i] && o !== "d").length).toBeLessThanOrEqual(32);
  });
});
