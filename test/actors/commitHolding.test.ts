// Commits a kind lets wait: for the work a turn started (`commitAfterWorkMs`, one commit for the
// start and the outcome) and for company (`commitLingerMs`, one batch for tells arriving apart).
// Nothing is acknowledged before its commit: a crash while a commit waits loses no acked tell.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromPromise, setup } from "xstate";
import { defineActorKind } from "../../actors/ActorKind.ts";
import { RESUME_TIMER } from "../../actors/ActorCell.ts";
import { ActorSystem } from "../../actors/ActorSystem.ts";
import { InProcessTransport } from "../../actors/transport/InProcessTransport.ts";
import { loadSnapshot } from "../../storage/actorStore.ts";
import { silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";

const jobMachine = setup({
  types: { context: {} as Record<string, never>, events: {} as { type: "start" }, input: {} as { id: string } },
  actors: { work: fromPromise<number>(async () => Promise.reject(new Error("provided by the kind"))) },
}).createMachine({
  context: {},
  initial: "idle",
  states: {
    idle: { on: { start: "working" } },
    working: { invoke: { src: "work", onDone: "done" } },
    done: {},
  },
});

/** Work that ends when `finish` is called (or never). */
function jobKind(options: { commitAfterWorkMs?: number; commitLingerMs?: number; finishAt?: "once" | "never" }) {
  const work = fromPromise<number>(() => new Promise((resolve) => (options.finishAt === "never" ? undefined : setImmediate(() => resolve(1)))));
  const { finishAt: _, ...holding } = options;
  return defineActorKind({ type: "job", machine: jobMachine.provide({ actors: { work } }), version: 1, ...holding });
}

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase("holding");
});
afterAll(async () => {
  await db.drop();
});

const system = (kind: ReturnType<typeof jobKind>) =>
  new ActorSystem({ sql: db.sql, kinds: [kind], transport: new InProcessTransport(), logger: silentLogger, timerPollMs: 20, resumeAfterMs: 60_000 });

const stored = (id: string) => loadSnapshot(db.sql, "job", id);
const timersOf = async (id: string) =>
  (await db.sql<{ timer_key: string }[]>`select timer_key from actor_timers where actor_type = 'job' and actor_id = ${id}`).map((t) => t.timer_key);

describe("commits held for the work a turn started", () => {
  it("work ending within the hold lands with its start in one commit, acked after it, with no resume timer", async () => {
    const s = system(jobKind({ commitAfterWorkMs: 10_000 }));
    await s.tell("job/quick", { type: "start" });
    const snapshot = await stored("quick");
    expect(snapshot?.snapshot).toMatchObject({ value: "done" });
    expect(snapshot?.version).toBe(1);
    expect(await timersOf("quick")).toEqual([]);
    await s.stop();
  });

  it("work outlasting the hold is committed in flight, its resume timer set, as without holding", async () => {
    const s = system(jobKind({ commitAfterWorkMs: 20, finishAt: "never" }));
    await s.tell("job/slow", { type: "start" });
    expect((await stored("slow"))?.snapshot).toMatchObject({ value: "working" });
    expect(await timersOf("slow")).toEqual([RESUME_TIMER]);
    s.crash();
  });

  it("an ask is never held: its reply leaves with the next commit though its work goes on", async () => {
    const s = system(jobKind({ commitAfterWorkMs: 60_000, commitLingerMs: 60_000, finishAt: "never" }));
    const view = await s.ask<{ state: string }>("job/asked", { type: "start" }, { timeoutMs: 5_000 });
    expect(view.state).toBe("working");
    s.crash();
  });

  it("a crash while a commit is held acknowledges nothing: the tell fails, nothing is stored, its redelivery applies it", async () => {
    const first = system(jobKind({ commitAfterWorkMs: 60_000, finishAt: "never" }));
    const told = first.tell("job/cut", { type: "start" }, { timeoutMs: 500 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.crash();
    await expect(told).rejects.toMatchObject({ code: "actor_timeout" });
    expect(await stored("cut")).toBeUndefined();

    const second = system(jobKind({ commitAfterWorkMs: 60_000 }));
    await second.tell("job/cut", { type: "start" }); // the redelivered status, as JetStream would
    expect((await stored("cut"))?.snapshot).toMatchObject({ value: "done" });
    await second.stop();
  });
});

describe("commits lingering for company", () => {
  it("tells to several actors arriving apart within the linger share one batch", async () => {
    const s = system(jobKind({ commitAfterWorkMs: 10_000, commitLingerMs: 2_000 }));
    const told: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      told.push(s.tell(`job/linger-${i}`, { type: "start" }));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(told);
    const batches = (await s.metrics.commitBatch.get()).values.find((v) => v.metricName?.endsWith("_count"));
    expect(batches?.value).toBe(1);
    await s.stop();
  });
});
