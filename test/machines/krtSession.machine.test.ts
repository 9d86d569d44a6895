// The krt-session machine as a model: every simple path through it keeps the invariants; random
// runs against a reference (what KRT must end up knowing); scenarios checking emitted effects.
import { Result, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createActor, fromPromise, type SnapshotFrom } from "xstate";
import { getSimplePaths } from "xstate/graph";
import { krtSessionKind } from "../../services/driverStatus/krtSessionKind.ts";
import {
  BindEvent,
  ConnectivityEvent,
  krtSessionMachine,
  type KrtSessionContext,
  type KrtSessionEvent,
  type SendInput,
  type SendOutput,
} from "../../machines/krtSession.machine.ts";
import type { Effect } from "../../actors/protocol.ts";

// As the runtime hosts it (its invoke is not run by the traversal; completions are events below),
// with reports going at once, or held back a minute by the rate limit (`queued` until `turn`).
const hostedKind = (reportWaitMs: number) =>
  krtSessionKind({
    krt: {
      checkId: async () => true,
      sendConnectivity: async () => ({ status: "active", ended_at: null }),
      reportWaitMs: () => reportWaitMs,
      promiseReportTurn: () => reportWaitMs,
    },
    now: () => 0,
    retry: { baseMs: 100, maxMs: 1_000 },
  });
const hosted = (reportWaitMs: number) => hostedKind(reportWaitMs).machine as typeof krtSessionMachine;
const machine = hosted(0);
const rateLimited = hosted(60_000);

type Snapshot = SnapshotFrom<typeof krtSessionMachine>;
const ID_A = "1111111111";
const ID_B = "2222222222";

const status = (driver: string, connected: boolean, status_at: number) =>
  ({ type: "connectivity", at: status_at, park_id: "p1", driver_id: driver, connected, status_at }) as const;
const bind = (deptrans_id: string) => ({ type: "bind", at: 5, deptrans_id, replyTo: "r" }) as const;
const answered = { type: "xstate.done.actor.sendConnectivity", output: { outcome: "answered", session: { status: "active", ended_at: 99_000 }, at: 50 } };
const rejected = { type: "xstate.done.actor.sendConnectivity", output: { outcome: "rejected", reason: "krt_rejected", at: 50 } };
const failed = { type: "xstate.error.actor.sendConnectivity", error: "krt down" };

const newest = (c: KrtSessionContext) => Math.max(0, ...c.profiles.map((p) => p.at));

function eventsFor(snapshot: Snapshot): KrtSessionEvent[] {
  const next = newest(snapshot.context) + 1;
  // The same id again, and another one (a rebind): which id it is does not matter, only whether it changed.
  const id = snapshot.context.deptrans_id ?? ID_A;
  const events: unknown[] = [status("d1", true, next), status("d1", false, next), status("d1", true, 0), bind(id), bind(id === ID_A ? ID_B : ID_A)];
  events.push({ type: "retry", at: next }, { type: "turn", at: next });
  if (snapshot.matches({ bound: "sending" })) events.push(answered, failed);
  if (snapshot.matches({ bound: "sending" }) && snapshot.context.last_sent === null) events.push(rejected);
  return events as KrtSessionEvent[];
}

// State abstraction: what is reported, under way and waiting (times only ever grow).
const pathsOf = (m: typeof krtSessionMachine) =>
  getSimplePaths(m, {
    input: { id: "lic-1" },
    events: eventsFor,
    serializeState: (s) => {
      const c = s.context;
      return JSON.stringify([s.value, c.deptrans_id !== null, c.pending?.connected, c.inflight?.connected, c.last_sent?.connected]);
    },
  });
const paths = [...pathsOf(machine), ...pathsOf(rateLimited)];

const stateOf = (s: Snapshot) => (typeof s.value === "string" ? s.value : `bound.${(s.value as { bound: string }).bound}`);
const nameOf = (path: (typeof paths)[number]) => path.steps.map((s) => s.event.type.replace("xstate.", "")).join(" > ");

// The graph keeps one snapshot per abstract state, so consecutive steps may come from different
// runs: only invariants of a single snapshot are checked here; order over time is the reference test's.
// Paths share their snapshots: each is checked once (it holds or fails the same on every path).
const checked = new WeakSet<object>();
function checkInvariants(path: (typeof paths)[number]): void {
  for (const { state } of path.steps) {
    if (checked.has(state)) continue;
    const c = state.context;
    const s = stateOf(state);
    // Bound means an id.
    expect(s === "unbound").toBe(c.deptrans_id === null);
    // A report is under way exactly while sending.
    expect(c.inflight !== null).toBe(s === "bound.sending");
    // Idle means nothing left to report; backoff means something waits for the retry.
    if (s === "bound.idle") expect(c.pending).toBeNull();
    if (s === "bound.backoff") expect(c.pending).not.toBeNull();
    // What KRT has or will have is the driver's newest connectivity (unless KRT refused the id).
    const newestStatus = c.profiles.find((p) => p.profile === "p1/d1");
    if (newestStatus && !c.last_error?.startsWith("rejected")) expect((c.pending ?? c.inflight ?? c.last_sent)?.connected).toBe(newestStatus.connected);
    // A report never goes out older than the last one. Unless the last attempt failed (KRT may
    // have got it), nothing waits or goes out that KRT already has.
    if (c.inflight && c.last_sent) expect(c.inflight.at).toBeGreaterThanOrEqual(c.last_sent.at);
    if (c.attempt === 0 && c.pending) expect(c.pending.connected).not.toBe((c.inflight ?? c.last_sent)?.connected);
    if (c.attempt === 0 && c.inflight && c.last_sent) expect(c.inflight.connected).not.toBe(c.last_sent.connected);
    checked.add(state);
  }
}

describe("krt-session machine (model)", () => {
  it("the traversal reaches every state", () => {
    const reached = new Set(paths.map((p) => stateOf(p.state)));
    expect([...reached].sort()).toEqual(["bound.backoff", "bound.idle", "bound.queued", "bound.sending", "unbound"]);
    expect(paths.length).toBeGreaterThan(1_000);
  });

  it.each(["unbound", "bound.idle", "bound.queued", "bound.sending", "bound.backoff"])("invariants hold on every simple path ending in %s", (end) => {
    const ending = paths.filter((p) => stateOf(p.state) === end);
    expect(ending.length).toBeGreaterThan(0);
    for (const path of ending) {
      try {
        checkInvariants(path);
      } catch (error) {
        throw new Error(`${nameOf(path)}: ${(error as Error).message}`);
      }
    }
  });
});

describe("krt-session machine (reference)", () => {
  it("whatever the order, flips, outages, rebinds and turns at the rate limit, once KRT answers the bound id holds the latest connectivity and no older report followed a newer one", async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("status" as const), driver: fc.constantFrom("d1", "d2"), connected: fc.boolean(), at: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant("krt" as const), up: fc.boolean() }),
      fc.record({ kind: fc.constant("retry" as const) }),
      fc.record({ kind: fc.constant("turn" as const) }),
      fc.record({ kind: fc.constant("rebind" as const) }),
    );
    await fc.assert(
      // `settle`: whether the reports under way may land before the next step (else it comes mid-report).
      // `limited`: the rate limit holds reports back (each waits `queued` for a turn).
      fc.asyncProperty(fc.boolean(), fc.boolean(), fc.array(fc.tuple(step, fc.boolean()), { maxLength: 40 }), async (limited, bindFirst, steps) => {
        let up = true;
        // `binding`: how many rebinds came before the report.
        const reports: (SendInput & { ok: boolean; binding: number })[] = [];
        let rebinds = 0;
        const actor = createActor(
          (limited ? rateLimited : machine).provide({
            actors: {
              sendConnectivity: fromPromise(async ({ input }: { input: SendInput }): Promise<SendOutput> => {
                reports.push({ ...input, ok: up, binding: rebinds });
                if (!up) throw new Error("krt down");
                return { outcome: "answered", session: { status: input.connected ? "active" : "paused", ended_at: 1_000 }, at: 1 };
              }),
            },
          }),
          { input: { id: "lic" } },
        ).start();
        const settle = () => new Promise((r) => setTimeout(r, 0));
        let id = ID_A;
        if (bindFirst) actor.send(bind(id));
        const newestPerDriver = new Map<string, { connected: boolean; at: number }>();
        for (const [s, settles] of steps) {
          if (s.kind === "status") {
            actor.send(status(s.driver, s.connected, s.at));
            const seen = newestPerDriver.get(s.driver);
            if (!seen || s.at > seen.at) newestPerDriver.set(s.driver, { connected: s.connected, at: s.at });
          } else if (s.kind === "rebind") {
            id = id === ID_A ? ID_B : ID_A;
            rebinds++;
            actor.send(bind(id));
          } else if (s.kind === "krt") up = s.up;
          else actor.send({ type: s.kind, at: 0 });
          if (settles) await settle();
        }
        if (!bindFirst) actor.send(bind(id));
        up = true;
        await settle();
        // What still waits: a retry after an outage, then (rate limited) its turn, or its turn alone.
        for (const type of ["retry", "turn", "retry", "turn"]) {
          actor.send({ type, at: 0 } as KrtSessionEvent);
          await settle();
        }
        expect(actor.getSnapshot().value).toEqual({ bound: "idle" });
        const expected = [...newestPerDriver.values()].some((p) => p.connected);
        if (newestPerDriver.size > 0) {
          expect(actor.getSnapshot().context.last_sent?.connected).toBe(expected);
          expect(reports.findLast((r) => r.ok && r.deptrans_id === id)?.connected).toBe(expected);
        }
        // Reports never go back in time; after a report KRT answered, the next one to that binding is a change.
        for (let i = 1; i < reports.length; i++) {
          expect(reports[i]!.at).toBeGreaterThanOrEqual(reports[i - 1]!.at);
          if (reports[i - 1]!.ok && reports[i]!.binding === reports[i - 1]!.binding) expect(reports[i]!.connected).not.toBe(reports[i - 1]!.connected);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("krt-session machine (scenarios)", () => {
  function run(send: (input: SendInput) => Promise<SendOutput>) {
    const effects: Effect[] = [];
    const actor = createActor(machine.provide({ actors: { sendConnectivity: fromPromise(({ input }: { input: SendInput }) => send(input)) } }), {
      input: { id: "lic-1" },
    });
    actor.on("*", (e) => effects.push(e as Effect));
    actor.start();
    return { actor, effects };
  }
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it("bind - replies bound, and the connectivity that waited is reported to the new id", async () => {
    const sent: SendInput[] = [];
    const { actor, effects } = run(async (input) => {
      sent.push(input);
      return { outcome: "answered", session: { status: "active", ended_at: 9 }, at: 7 };
    });
    actor.send(status("d1", true, 3));
    expect(actor.getSnapshot().value).toBe("unbound");
    actor.send(bind(ID_A));
    await tick();
    expect(effects).toContainEqual({ type: "reply", replyTo: "r", reply: { ok: true, value: { bound: true } } });
    expect(sent).toEqual([{ deptrans_id: ID_A, connected: true, at: 3 }]);
    expect(actor.getSnapshot().context.session).toEqual({ status: "active", ended_at: 9, updated_at: 7, seq: 1 });
  });

  it("rebind while a report to the old id is under way - the new id is told the current connectivity, whatever the old report's answer", async () => {
    for (const oldAnswer of ["answered", "failed"] as const) {
      const sent: SendInput[] = [];
      const answers: ((output: SendOutput) => void)[] = [];
      const failures: ((error: Error) => void)[] = [];
      const { actor, effects } = run((input) => {
        sent.push(input);
        return new Promise<SendOutput>((resolve, reject) => {
          answers.push(resolve);
          failures.push(reject);
        });
      });
      actor.send(bind(ID_A));
      actor.send(status("d1", true, 1));
      expect(sent).toEqual([{ deptrans_id: ID_A, connected: true, at: 1 }]);
      actor.send(bind(ID_B));
      expect(effects.filter((e) => e.type === "reply")).toHaveLength(2);
      // The old id's report lands (or fails) after the rebind.
      if (oldAnswer === "answered") answers[0]!({ outcome: "answered", session: { status: "active", ended_at: 9 }, at: 7 });
      else failures[0]!(new Error("krt down"));
      await tick();
      expect(sent.slice(1), oldAnswer).toEqual([{ deptrans_id: ID_B, connected: true, at: 1 }]);
      answers[1]!({ outcome: "answered", session: { status: "active", ended_at: 9 }, at: 8 });
      await tick();
      expect(actor.getSnapshot().value, oldAnswer).toEqual({ bound: "idle" });
      expect(actor.getSnapshot().context.last_sent, oldAnswer).toEqual({ connected: true, at: 1, sent_at: 8 });
      expect(sent, oldAnswer).toHaveLength(2);
    }
  });

  it("held back by the rate limit - the report waits queued on a durable turn timer with no call under way; at its turn the latest is sent, or nothing when nothing is left to say", async () => {
    const sent: SendInput[] = [];
    const effects: Effect[] = [];
    const actor = createActor(
      rateLimited.provide({
        actors: {
          sendConnectivity: fromPromise(async ({ input }: { input: SendInput }): Promise<SendOutput> => {
            sent.push(input);
            return { outcome: "answered", session: { status: "active", ended_at: 9 }, at: 7 };
          }),
        },
      }),
      { input: { id: "lic-1" } },
    );
    actor.on("*", (e) => effects.push(e as Effect));
    actor.start();
    actor.send(bind(ID_A));
    actor.send(status("d1", true, 1));
    expect(actor.getSnapshot().value).toEqual({ bound: "queued" });
    expect(Object.keys(actor.getSnapshot().children)).toEqual([]); // nothing held in memory but the snapshot
    expect(effects).toContainEqual({ type: "timer.set", key: "turn", delayMs: 60_000, event: { type: "turn" } });
    actor.send(status("d2", true, 2));
    actor.send(status("d1", false, 3));
    actor.send({ type: "turn", at: 4 } as KrtSessionEvent);
    await tick();
    expect(sent).toEqual([{ deptrans_id: ID_A, connected: true, at: 1 }]); // d2 keeps him connected
    expect(actor.getSnapshot().value).toEqual({ bound: "idle" });

    // A flip and its undoing while queued: at the turn nothing is left to say.
    actor.send(status("d2", false, 5));
    expect(actor.getSnapshot().value).toEqual({ bound: "queued" });
    actor.send(status("d2", true, 6));
    actor.send({ type: "turn", at: 7 } as KrtSessionEvent);
    await tick();
    expect(sent).toHaveLength(1);
    expect(actor.getSnapshot().value).toEqual({ bound: "idle" });
    expect(actor.getSnapshot().context.pending).toBeNull();
  });

  it("rebind to the same id changes nothing: no report is repeated", async () => {
    const sent: SendInput[] = [];
    const { actor } = run(async (input) => {
      sent.push(input);
      return { outcome: "answered", session: { status: "active", ended_at: 9 }, at: 7 };
    });
    actor.send(bind(ID_A));
    actor.send(status("d1", true, 1));
    await tick();
    actor.send(bind(ID_A));
    await tick();
    expect(sent).toHaveLength(1);
  });

  it("online and busy are both connected: the flip reports nothing", async () => {
    const sent: SendInput[] = [];
    const { actor } = run(async (input) => {
      sent.push(input);
      return { outcome: "answered", session: { status: "active", ended_at: 9 }, at: 7 };
    });
    actor.send(bind(ID_A));
    actor.send(status("d1", true, 1));
    await tick();
    actor.send(status("d1", true, 2));
    await tick();
    expect(sent).toHaveLength(1);
    expect(actor.getSnapshot().context.profiles).toEqual([{ profile: "p1/d1", connected: true, at: 2 }]);
  });

  it("a status older than the newest of its profile is refused", () => {
    const { actor } = run(() => new Promise(() => {}));
    actor.send(status("d1", false, 10));
    expect(actor.getSnapshot().can(status("d1", true, 9))).toBe(false);
    expect(actor.getSnapshot().can(status("d1", true, 10))).toBe(false);
    expect(actor.getSnapshot().can(status("d2", true, 9))).toBe(true);
  });

  it("a snapshot of machine version 1 (profiles keyed by profile) is migrated: its newest times still refuse older statuses", () => {
    const kind = hostedKind(0);
    const { actor } = run(() => new Promise(() => {}));
    actor.send(status("d1", false, 10));
    actor.send(status("d2", true, 20));
    const today = actor.getPersistedSnapshot() as Snapshot;
    const version1 = { ...today, context: { ...today.context, profiles: { "p1/d1": { connected: false, at: 10 }, "p1/d2": { connected: true, at: 20 } } } };
    const migrated = kind.migrate!(JSON.parse(JSON.stringify(version1)), 1);
    expect(migrated.context.profiles).toEqual(today.context.profiles);
    expect(kind.migrate!(today, 1)).toBe(today); // already a list: left as it is
    const restored = createActor(machine, { snapshot: migrated, input: { id: "lic-1" } }).start();
    expect(restored.getSnapshot().can(status("d1", true, 9))).toBe(false);
    expect(restored.getSnapshot().can(status("d2", false, 20))).toBe(false);
    expect(restored.getSnapshot().can(status("d1", true, 11))).toBe(true);
  });

  it("KRT down - a durable retry timer is set, and only the latest value waits for it", async () => {
    const { actor, effects } = run(() => Promise.reject(new Error("krt down")));
    actor.send(bind(ID_A));
    actor.send(status("d1", true, 1));
    await tick();
    expect(actor.getSnapshot().value).toEqual({ bound: "backoff" });
    const timer = effects.find((e) => e.type === "timer.set");
    expect(timer).toMatchObject({ type: "timer.set", key: "retry", event: { type: "retry" } });
    expect((timer as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(75);
    actor.send(status("d1", false, 2));
    actor.send(status("d1", true, 3));
    expect(actor.getSnapshot().context.pending).toEqual({ connected: true, at: 3 });
  });

  it("a profile going offline keeps the person connected while another profile is online", async () => {
    const sent: SendInput[] = [];
    const { actor } = run(async (input) => {
      sent.push(input);
      return { outcome: "answered", session: { status: "active", ended_at: 9 }, at: 7 };
    });
    actor.send(bind(ID_A));
    actor.send(status("d1", true, 1));
    await tick();
    actor.send({ ...status("d2", true, 2), park_id: "p2" });
    actor.send(status("d1", false, 3));
    await tick();
    expect(sent.map((s) => s.connected)).toEqual([true]);
  });
});

describe("krt-session machine (input events and policy)", () => {
  it("its input events decode with its Schemas; a KRT id is 10 to 20 digits", () => {
    const decodeBind = Schema.decodeUnknownResult(BindEvent);
    expect(Result.isSuccess(decodeBind({ type: "bind", deptrans_id: ID_A }))).toBe(true);
    expect(Result.isFailure(decodeBind({ type: "bind", deptrans_id: "12345" }))).toBe(true);
    expect(Result.isFailure(decodeBind({ type: "bind", deptrans_id: "1111111111x" }))).toBe(true);
    const { at: _at, ...connectivity } = status("d1", true, 1);
    expect(Result.isSuccess(Schema.decodeUnknownResult(ConnectivityEvent)(connectivity))).toBe(true);
    expect(Result.isFailure(Schema.decodeUnknownResult(ConnectivityEvent)({ ...connectivity, driver_id: "" }))).toBe(true);
  });

  it("the backoff is the kind's alone: the bare machine has no retry policy of its own", async () => {
    const actor = createActor(krtSessionMachine.provide({ actors: { sendConnectivity: fromPromise(() => Promise.reject(new Error("krt down"))) } }), {
      input: { id: "lic-1" },
    });
    actor.subscribe({ error: () => {} });
    actor.start();
    actor.send(bind(ID_A));
    actor.send(status("d1", true, 1));
    await new Promise((r) => setTimeout(r, 0));
    expect(actor.getSnapshot().status).toBe("error");
  });
});
