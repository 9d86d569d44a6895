// The matching machine as a model: every simple path through it (generated with xstate/graph)
// moves only along the programme's legal transitions, journals each status change exactly once,
// and ends only as the seed allows; plus scenarios checking the timers and notifications it emits.
import { describe, expect, it } from "vitest";
import { createActor, fromPromise, transition, type SnapshotFrom } from "xstate";
import { getSimplePaths } from "xstate/graph";
import { matchingKind, matchingRetry } from "../../services/mentorship/matchingKind.ts";
import {
  matchingMachine,
  PROMOCODE_WAIT_MS,
  type MatchingContext,
  type MatchingEvent,
  type MatchingStatus,
  type ProgressResult,
} from "../../machines/matching.machine.ts";
import type { Effect } from "../../actors/protocol.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-03-01T00:00:00Z");
const policy = { retryBaseMs: 100, retryMaxMs: 1_000, recheckMs: 3_600_000 };
// The machine as the runtime hosts it (its invokes are not run by the traversal: their
// completions are events below).
const machine = matchingKind({
  effects: { apply: async () => {}, notify: async () => {}, readProgress: async () => null },
  now: () => 0,
  policy,
}).machine as typeof matchingMachine;

type Snapshot = SnapshotFrom<typeof matchingMachine>;

/** Every effect completes at day 15: after both progress days, before the promocode deadline. */
const doneAt = T0 + 15 * DAY;
const early = T0 + DAY;
const late = T0 + 100 * DAY;

const LEGAL: ReadonlySet<string> = new Set([
  "null>created",
  "created>requested",
  "requested>matched",
  "matched>initialized",
  "initialized>in_progress",
  "in_progress>finished",
  "finished>succeed",
  "finished>failed",
]);

function eventsFor(snapshot: Snapshot): MatchingEvent[] {
  const events: unknown[] = [
    { type: "confirm", at: T0, newbie_park_id: "p1", newbie_driver_id: "d1" },
    { type: "matched", at: T0, mentor_park_id: "p2", mentor_driver_id: "m1", connected_at: T0 },
    { type: "promocode", at: late, promocode: "MENTOR-1" },
    { type: "retry", at: late },
    // Timers firing too early (a clock set back, a stale row) and in time.
    ...[early, late].flatMap((at) => [
      { type: "progress_due", at },
      { type: "promocode_deadline", at },
    ]),
  ];
  const done = (id: string, output: object = {}) => ({ type: `xstate.done.actor.${id}`, output: { at: doneAt, ...output } });
  const error = (id: string) => ({ type: `xstate.error.actor.${id}`, error: "partner down" });
  if (snapshot.matches({ created: "applying" })) events.push(done("apply"), error("apply"));
  if (snapshot.matches({ matched: "notifying" })) events.push(done("notifyMatched"), error("notifyMatched"));
  for (const [status, day] of [
    ["initialized", 7],
    ["in_progress", 14],
  ] as const) {
    if (snapshot.matches({ [status]: "reading" } as never))
      events.push(done(`readProgress${day}`, { result: { rate_avg: "4.9" } }), done(`readProgress${day}`, { result: null }), error(`readProgress${day}`));
    if (snapshot.matches({ [status]: "notifying" } as never)) events.push(done(`notifyProgress${day}`), error(`notifyProgress${day}`));
  }
  if (snapshot.matches({ finished: "notifying" })) events.push(done("notifyPromocode"), error("notifyPromocode"));
  return events as MatchingEvent[];
}

const paths = getSimplePaths(machine, {
  input: { id: "m-1" },
  events: eventsFor,
  serializeState: (s) => JSON.stringify([s.value, s.context.transitions.length, s.context.results.length, s.context.attempt > 0, s.context.mentor_promocode]),
});

const top = (s: Snapshot) => (typeof s.value === "string" ? s.value : Object.keys(s.value)[0]!);
const FINAL = ["succeed", "failed"];

describe("matching machine (model)", () => {
  it("the traversal reaches every status", () => {
    const reached = new Set(paths.map((p) => top(p.state)));
    expect([...reached].sort()).toEqual(["absent", "created", "failed", "finished", "in_progress", "initialized", "matched", "requested", "succeed"]);
    expect(paths.length).toBeGreaterThan(50);
  });

  it.each(paths.map((p) => [p.steps.map((s) => s.event.type.replace("xstate.", "")).join(" > "), p] as const))("legal, journaled once: %s", (_name, path) => {
    let before: MatchingContext | undefined;
    let beforeState: string | undefined;
    for (const { state } of path.steps) {
      const c = state.context;
      const s = top(state);
      const t = c.transitions;
      // The journal is a chain of legal moves, numbered from 1, and its last entry is the status.
      t.forEach((tr, i) => {
        expect(tr.seq).toBe(i + 1);
        expect(tr.from).toBe(i === 0 ? null : t[i - 1]!.to);
        expect(LEGAL.has(`${tr.from}>${tr.to}`)).toBe(true);
      });
      if (s !== "absent") expect(t.at(-1)?.to).toBe(s as MatchingStatus);
      // Each status change is journaled once: a step that changes the status adds exactly one entry, any other adds none.
      if (before) {
        const moved = s !== beforeState;
        expect(t.length - before.transitions.length).toBe(moved ? 1 : 0);
        expect(t.slice(0, before.transitions.length)).toEqual(before.transitions);
      }
      // Ends only as the seed allows: succeed with the mentor's promocode after both results;
      // failed only from finished, and not before 14 days without a promocode.
      if (s === "succeed") {
        expect(c.mentor_promocode).toBe("MENTOR-1");
        expect(c.results.map((r) => r.day).sort()).toEqual([14, 7]);
        expect(c.completed_at).not.toBeNull();
      }
      if (s === "failed") {
        expect(t.at(-2)?.to).toBe("finished");
        expect(c.mentor_promocode).toBeNull();
        expect(c.completed_at!).toBeGreaterThanOrEqual(c.finished_at! + PROMOCODE_WAIT_MS);
      }
      if (["in_progress", "finished", "succeed", "failed"].includes(s)) expect(c.results.some((r) => r.day === 7)).toBe(true);
      if (["finished", "succeed", "failed"].includes(s)) expect(c.results.some((r) => r.day === 14)).toBe(true);
      if (s !== "absent" && s !== "created" && s !== "requested") expect(c.mentor_driver_id).toBe("m1");
      if (FINAL.includes(s)) expect(state.status).toBe("done");
      else expect(state.status).toBe("active");
      // A final state takes no events.
      if (beforeState && FINAL.includes(beforeState)) expect(s).toBe(beforeState);
      before = c;
      beforeState = s;
    }
  });

  it("a final state takes no events: it is done (the runtime refuses events to done actors) and none changes it", () => {
    const ends = paths.filter((p) => FINAL.includes(top(p.state)));
    expect(ends.length).toBeGreaterThan(0);
    for (const p of ends) {
      expect(p.state.status).toBe("done");
      for (const event of eventsFor(p.state)) {
        const [next] = transition(machine, p.state, event);
        expect([next.value, next.context]).toEqual([p.state.value, p.state.context]);
      }
    }
  });
});

describe("matching machine (scenarios)", () => {
  function run(readProgress: () => Promise<{ result: ProgressResult | null; at: number }>) {
    const effects: Effect[] = [];
    let clock = T0;
    const actor = createActor(
      matchingMachine.provide({
        actions: matchingRetry(policy),
        actors: {
          apply: fromPromise(async () => ({ at: clock })),
          notify: fromPromise(async () => ({ at: clock })),
          readProgress: fromPromise(readProgress),
        },
      }),
      { input: { id: "m-1" } },
    );
    actor.on("*", (e) => effects.push(e as Effect));
    actor.start();
    return { actor, effects, setClock: (at: number) => (clock = at) };
  }
  const settle = () => new Promise((r) => setTimeout(r, 0));

  it("confirm - replies with the matching id and status created, and a repeat with the status it has reached", async () => {
    const { actor, effects } = run(async () => ({ result: null, at: T0 }));
    actor.send({ type: "confirm", at: T0, newbie_park_id: "p1", newbie_driver_id: "d1", replyTo: "r1" });
    expect(effects).toContainEqual({ type: "reply", replyTo: "r1", reply: { ok: true, value: { matching_id: "m-1", status: "created" } } });
    await settle();
    actor.send({ type: "confirm", at: T0, newbie_park_id: "p1", newbie_driver_id: "d2", replyTo: "r2" });
    expect(effects).toContainEqual({ type: "reply", replyTo: "r2", reply: { ok: true, value: { matching_id: "m-1", status: "requested" } } });
    expect(actor.getSnapshot().context.newbie_driver_id).toBe("d1");
  });

  it("initialized - the day-7 timer is due 7 days after the CRM paired them, not after we heard", async () => {
    const { actor, effects, setClock } = run(async () => ({ result: null, at: T0 }));
    actor.send({ type: "confirm", at: T0, newbie_park_id: "p1", newbie_driver_id: "d1" });
    await settle();
    setClock(T0 + 2 * DAY);
    actor.send({ type: "matched", at: T0 + 2 * DAY, mentor_park_id: "p2", mentor_driver_id: "m1", connected_at: T0 + DAY });
    await settle();
    expect(actor.getSnapshot().value).toEqual({ initialized: "waiting" });
    expect(effects).toContainEqual({ type: "timer.set", key: "progress", delayMs: 6 * DAY, event: { type: "progress_due" } });
  });

  it("progress - no result in the CRM yet: checked again after the recheck delay, still initialized", async () => {
    const { actor, effects } = run(async () => ({ result: null, at: T0 + 8 * DAY }));
    actor.send({ type: "confirm", at: T0, newbie_park_id: "p1", newbie_driver_id: "d1" });
    await settle();
    actor.send({ type: "matched", at: T0, mentor_park_id: "p2", mentor_driver_id: "m1", connected_at: T0 });
    await settle();
    actor.send({ type: "progress_due", at: T0 + 7 * DAY });
    await settle();
    expect(actor.getSnapshot().value).toEqual({ initialized: "waiting" });
    expect(effects.filter((e) => e.type === "timer.set" && e.key === "progress").at(-1)).toEqual({
      type: "timer.set",
      key: "progress",
      delayMs: policy.recheckMs,
      event: { type: "progress_due" },
    });
  });

  it("finished - the promocode deadline is a durable timer 14 days on; failed when it passes", async () => {
    const { actor, effects, setClock } = run(async () => ({ result: { rate_avg_7d: "4.8" }, at: T0 + 14 * DAY }));
    actor.send({ type: "confirm", at: T0, newbie_park_id: "p1", newbie_driver_id: "d1" });
    await settle();
    actor.send({ type: "matched", at: T0, mentor_park_id: "p2", mentor_driver_id: "m1", connected_at: T0 });
    await settle();
    setClock(T0 + 14 * DAY);
    actor.send({ type: "progress_due", at: T0 + 7 * DAY });
    await settle();
    actor.send({ type: "progress_due", at: T0 + 14 * DAY });
    await settle();
    expect(actor.getSnapshot().value).toEqual({ finished: "waiting" });
    expect(effects).toContainEqual({ type: "timer.set", key: "promocode_deadline", delayMs: PROMOCODE_WAIT_MS, event: { type: "promocode_deadline" } });
    actor.send({ type: "promocode_deadline", at: T0 + 14 * DAY + PROMOCODE_WAIT_MS });
    expect(actor.getSnapshot().value).toBe("failed");
    expect(actor.getSnapshot().context.transitions.map((t) => t.to)).toEqual([
      "created",
      "requested",
      "matched",
      "initialized",
      "in_progress",
      "finished",
      "failed",
    ]);
  });

  it("notifications - idempotency keys are per matching and step, and the mentor hears of the day-7 result", async () => {
    const pushed: { key: string; notifications: unknown[] }[] = [];
    const actor = createActor(
      matchingMachine.provide({
        actions: matchingRetry(policy),
        actors: {
          apply: fromPromise(async () => ({ at: T0 })),
          notify: fromPromise(async ({ input }) => {
            pushed.push(input);
            return { at: T0 + 7 * DAY };
          }),
          readProgress: fromPromise(async (): Promise<{ result: ProgressResult | null; at: number }> => ({ result: { rate_avg_7d: "4.8" }, at: T0 + 7 * DAY })),
        },
      }),
      { input: { id: "m-1" } },
    ).start();
    actor.send({ type: "confirm", at: T0, newbie_park_id: "p1", newbie_driver_id: "d1" });
    await settle();
    actor.send({ type: "matched", at: T0, mentor_park_id: "p2", mentor_driver_id: "m1", connected_at: T0 });
    await settle();
    actor.send({ type: "progress_due", at: T0 + 7 * DAY });
    await settle();
    expect(pushed.map((p) => p.key)).toEqual(["m-1:matched", "m-1:day7"]);
    expect(pushed[0]!.notifications).toEqual([
      { park_id: "p1", driver_id: "d1", event: "mentorship.mentor_assigned", payload: { matching_id: "m-1", role: "newbie" } },
      { park_id: "p2", driver_id: "m1", event: "mentorship.newbie_assigned", payload: { matching_id: "m-1", role: "mentor" } },
    ]);
    expect(pushed[1]!.notifications).toEqual([
      { park_id: "p2", driver_id: "m1", event: "mentorship.newbie_progress", payload: { matching_id: "m-1", day: 7, result: { rate_avg_7d: "4.8" } } },
    ]);
  });
});
