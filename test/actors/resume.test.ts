// Work in flight (an invoked promise) resumes after a crash without waiting for a message.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assign, fromPromise, setup } from "xstate";
import { defineActorKind } from "../../actors/ActorKind.ts";
import { RESUME_TIMER } from "../../actors/ActorCell.ts";
import { ActorSystem } from "../../actors/ActorSystem.ts";
import { InProcessTransport } from "../../actors/transport/InProcessTransport.ts";
import { ManualClock } from "../../actors/clock.ts";
import { loadSnapshot } from "../../storage/actorStore.ts";
import { eventually, silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";

const jobMachine = setup({
  types: { context: {} as { result: number | null }, events: {} as { type: "start" }, input: {} as { id: string } },
  actors: { work: fromPromise<number>(async () => Promise.reject(new Error("provided by the kind"))) },
}).createMachine({
  context: { result: null },
  initial: "idle",
  states: {
    idle: { on: { start: "working" } },
    working: { invoke: { src: "work", onDone: { target: "done", actions: assign({ result: ({ event }) => event.output }) } } },
    done: { type: "final" },
  },
});

/** A job kind whose work takes `ms` (forever when undefined) and counts its runs. */
function jobKind(ms: number | undefined, runs: { count: number }) {
  const work = fromPromise<number>(() => {
    runs.count++;
    return new Promise((resolve) => {
      if (ms !== undefined) setTimeout(() => resolve(42), ms);
    });
  });
  return defineActorKind({ type: "job", machine: jobMachine.provide({ actors: { work } }), version: 1 });
}

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase("resume");
});
afterAll(async () => {
  await db.drop();
});

const system = (ms: number | undefined, runs: { count: number }, options: Partial<ConstructorParameters<typeof ActorSystem>[0]> = {}) =>
  new ActorSystem({
    sql: db.sql,
    kinds: [jobKind(ms, runs)],
    transport: new InProcessTransport(),
    logger: silentLogger,
    timerPollMs: 20,
    resumeAfterMs: 100,
    ...options,
  });

const stateOf = async (id: string) => (await loadSnapshot(db.sql, "job", id))?.snapshot as { value: string; context: { result: number | null } } | undefined;
const timersOf = async (id: string) => db.sql<{ timer_key: string }[]>`select timer_key from actor_timers where actor_type = 'job' and actor_id = ${id}`;
const commitsOf = async (id: string) => (await loadSnapshot(db.sql, "job", id))?.version;
const resumeDueOf = async (id: string) =>
  (
    await db.sql<{ due_at: Date }[]>`select due_at from actor_timers where actor_type = 'job' and actor_id = ${id} and timer_key = ${RESUME_TIMER}`
  )[0]?.due_at.getTime();

describe("work in flight resumes", () => {
  it("after a crash mid-invocation, with no message: the next runtime finds the resume timer, reloads the actor and finishes the work", async () => {
    const cut = { count: 0 };
    const first = system(undefined, cut); // the partner never answers this one
    await first.ask("job/cut", { type: "start" });
    expect((await stateOf("cut"))?.value).toBe("working");
    expect((await timersOf("cut")).map((t) => t.timer_key)).toEqual([RESUME_TIMER]);
    first.crash();

    const runs = { count: 0 };
    const second = system(10, runs);
    await eventually(async () => (await stateOf("cut"))?.value === "done");
    expect((await stateOf("cut"))?.context.result).toBe(42);
    expect(runs.count).toBe(1);
    expect(await timersOf("cut")).toEqual([]); // the commit leaving the work cancelled its timer
    const resumed = (await second.metrics.actorsResumed.get()).values.find((v) => v.labels.type === "job");
    expect(resumed?.value).toBe(1);
    await second.stop();
  });

  it("work that outlasts the resume delay on a live actor runs once: the timer is consumed and set again, never restarts it", async () => {
    const runs = { count: 0 };
    const s = system(400, runs);
    await s.ask("job/slow", { type: "start" });
    await eventually(async () => (await stateOf("slow"))?.value === "done");
    expect(runs.count).toBe(1);
    expect(await timersOf("slow")).toEqual([]);
    await s.stop();
  });

  it("work waiting long on a live actor is not committed again every resume delay: its timer is set further out each time it fires", async () => {
    const clock = new ManualClock();
    const runs = { count: 0 };
    const s = system(undefined, runs, { clock, background: false, resumeAfterMs: 5_000 });
    await s.ask("job/waiting", { type: "start" });
    const started = await commitsOf("waiting");
    // An hour of waiting, in steps of the resume delay, each step polled.
    for (let step = 0; step < 720; step++) {
      clock.advance(5_000);
      await s.timers.poll();
    }
    const commits = (await commitsOf("waiting"))! - started!;
    // 5, 10, 20, ... 320 s, then every 320 s: 6 + 10 commits in the hour, not 720.
    expect(commits).toBeGreaterThanOrEqual(10);
    expect(commits).toBeLessThanOrEqual(20);
    expect(runs.count).toBe(1);
    expect((await resumeDueOf("waiting"))! - clock.now()).toBeGreaterThan(60_000);
    expect((await stateOf("waiting"))?.value).toBe("working");
    s.crash();
    // Its manual clock's hour is long past in real time: no later runtime of this file resumes it.
    await db.sql`delete from actor_timers where actor_id = 'waiting'`;
  });

  it("a crash while the resume timer is far out: the next runtime resumes the work at its start, not when the timer is due", async () => {
    const cut = { count: 0 };
    const first = system(undefined, cut, { resumeAfterMs: 600_000 });
    await first.ask("job/far", { type: "start" });
    expect((await resumeDueOf("far"))! - Date.now()).toBeGreaterThan(500_000);
    first.crash();

    const runs = { count: 0 };
    const second = system(10, runs, { resumeAfterMs: 600_000 });
    await eventually(async () => (await stateOf("far"))?.value === "done");
    expect(runs.count).toBe(1);
    expect(await timersOf("far")).toEqual([]);
    await second.stop();
  });

  it("a host taking a shard over resumes its work in flight at once; the shards it did not take keep their timers' due times", async () => {
    const placement = (owned: number[]) => ({
      shardOf: (a: { id: string }) => (a.id === "taken" ? 1 : 2),
      epochOf: () => 1,
      owns: (shard: number) => owned.includes(shard),
      ownedShards: () => owned,
    });
    const cut = { count: 0 };
    const first = system(undefined, cut, { resumeAfterMs: 600_000, placement: placement([1, 2]) });
    await first.ask("job/taken", { type: "start" });
    await first.ask("job/kept", { type: "start" });
    const keptDue = await resumeDueOf("kept");
    first.crash();

    const runs = { count: 0 };
    const second = system(10, runs, { resumeAfterMs: 600_000, placement: placement([1]) });
    second.acquired(1);
    await eventually(async () => (await stateOf("taken"))?.value === "done");
    expect(runs.count).toBe(1);
    expect(await resumeDueOf("kept")).toBe(keptDue);
    expect((await stateOf("kept"))?.value).toBe("working");
    await second.stop();
  });
});
