// The mailing machine as a model: every simple path through it keeps the invariants; plus
// scenarios checking the effects it emits.
import { describe, expect, it } from "vitest";
import { createActor, fromPromise, type SnapshotFrom } from "xstate";
import { getSimplePaths } from "xstate/graph";
import { mailingKind, mailingRetry } from "../../services/mailings/mailingKind.ts";
import { mailingMachine, type MailingContext, type MailingEvent } from "../../machines/mailing.machine.ts";
import type { Effect } from "../../actors/protocol.ts";

const MAX_ATTEMPTS = 3;
// The machine as the runtime hosts it, with the configured retry policy (its invokes are not run
// by the graph traversal; their completions are events below).
const machine = mailingKind({
  parks: { listDrivers: async () => [] },
  feeds: { publish: async () => ({ feedId: "f", delivered: 0 }) },
  now: () => 0,
  policy: { batchSize: 2, maxAttempts: MAX_ATTEMPTS, retryBaseMs: 100 },
}).machine as typeof mailingMachine;

type Snapshot = SnapshotFrom<typeof mailingMachine>;
const at = 1_000;
const create = { type: "create", at, park_id: "p1", template_id: "t1", created_by: "7", message: "hi", filter: {} } as const;

function eventsFor(snapshot: Snapshot): MailingEvent[] {
  const events: unknown[] = [create, { type: "cancel", at, park_id: "p1" }, { type: "cancel", at, park_id: "intruder" }, { type: "retry", at }];
  if (snapshot.matches({ created: "resolving" })) {
    events.push(
      { type: "xstate.done.actor.resolveRecipients", output: { batches: [["a", "b"], ["c"]], count: 3 } },
      { type: "xstate.done.actor.resolveRecipients", output: { batches: [], count: 0 } },
      { type: "xstate.error.actor.resolveRecipients", error: "parks down" },
    );
  }
  if (snapshot.matches({ sending: "delivering" })) {
    events.push({ type: "xstate.done.actor.deliverBatch", output: { at: 2_000 } }, { type: "xstate.error.actor.deliverBatch", error: "feeds down" });
  }
  return events as MailingEvent[];
}

const paths = getSimplePaths(machine, {
  input: { id: "m1" },
  events: eventsFor,
  serializeState: (s) => JSON.stringify([s.value, s.context.batches_done, s.context.attempt, s.context.recipients_count]),
});

const top = (s: Snapshot) => (typeof s.value === "string" ? s.value : Object.keys(s.value)[0]);

describe("mailing machine (model)", () => {
  it("the traversal reaches every state", () => {
    const reached = new Set(paths.map((p) => top(p.state)));
    expect([...reached].sort()).toEqual(["absent", "cancelled", "created", "failed", "sending", "sent"]);
    expect(paths.length).toBeGreaterThan(20);
  });

  it.each(paths.map((p) => [p.steps.map((s) => s.event.type).join(" > "), p] as const))("invariants hold on %s", (_name, path) => {
    let previous: MailingContext | undefined;
    let previousState: string | undefined;
    for (const { state } of path.steps) {
      const c = state.context;
      const s = top(state);
      // A mailing belongs to the park that created it, for good.
      if (previous?.park_id) expect(c.park_id).toBe(previous.park_id);
      expect(c.batches_done).toBeLessThanOrEqual(c.batches.length);
      expect(c.attempt).toBeLessThanOrEqual(MAX_ATTEMPTS);
      if (s === "sent") {
        expect(c.batches_done).toBe(c.batches.length);
        expect(c.recipients_count).not.toBeNull();
        expect(c.sent_at).not.toBeNull();
      }
      if (s === "failed") expect(c.attempt).toBe(MAX_ATTEMPTS);
      if (s === "sending") expect(c.recipients_count).toBeGreaterThan(0);
      if (["sent", "cancelled", "failed"].includes(s!)) expect(state.status).toBe("done");
      if (previousState && ["sent", "cancelled", "failed"].includes(previousState)) expect(s).toBe(previousState);
      previous = c;
      previousState = s;
    }
  });
});

describe("mailing machine (scenarios)", () => {
  function run(resolve: () => Promise<{ batches: string[][]; count: number }>) {
    const effects: Effect[] = [];
    const actor = createActor(
      mailingMachine.provide({
        // The machine leaves its retry policy to the kind: the production defaults here.
        ...mailingRetry({ maxAttempts: 5, retryBaseMs: 1_000 }),
        actors: {
          resolveRecipients: fromPromise(resolve),
          deliverBatch: fromPromise(async () => ({ at: 5 })),
        },
      }),
      { input: { id: "m1" } },
    );
    actor.on("*", (e) => effects.push(e as Effect));
    actor.start();
    return { actor, effects };
  }

  it("create - replies with the mailing id and status created", () => {
    const { actor, effects } = run(() => new Promise(() => {}));
    actor.send({ ...create, replyTo: "r1" });
    expect(effects).toContainEqual({ type: "reply", replyTo: "r1", reply: { ok: true, value: { mailing_id: "m1", template_id: "t1", status: "created" } } });
  });

  it("a failed step schedules a durable retry and waits for it", async () => {
    const { actor, effects } = run(() => Promise.reject(new Error("parks down")));
    actor.send(create);
    await new Promise((r) => setTimeout(r, 0));
    expect(actor.getSnapshot().matches({ created: "waiting" })).toBe(true);
    expect(effects).toContainEqual({ type: "timer.set", key: "retry", delayMs: 1_000, event: { type: "retry" } });
  });

  it("cancel - from another park is refused as not found and changes nothing", () => {
    const { actor, effects } = run(() => new Promise(() => {}));
    actor.send(create);
    actor.send({ type: "cancel", at, park_id: "intruder", replyTo: "r2" } as MailingEvent);
    expect(actor.getSnapshot().matches("created")).toBe(true);
    expect(effects).toContainEqual({ type: "reply", replyTo: "r2", reply: { ok: false, code: "not_found", message: "mailing not found" } });
  });

  it("cancel - clears a pending retry timer", async () => {
    const { actor, effects } = run(() => Promise.reject(new Error("parks down")));
    actor.send(create);
    await new Promise((r) => setTimeout(r, 0));
    actor.send({ type: "cancel", at, park_id: "p1" });
    expect(actor.getSnapshot().value).toBe("cancelled");
    expect(effects).toContainEqual({ type: "timer.cancel", key: "retry" });
  });

  it("all batches delivered - sent, with the recipients count", async () => {
    const { actor } = run(async () => ({ batches: [["a", "b"], ["c"]], count: 3 }));
    actor.send(create);
    await new Promise((r) => setTimeout(r, 10));
    expect(actor.getSnapshot().value).toBe("sent");
    expect(actor.getSnapshot().context).toMatchObject({ recipients_count: 3, batches_done: 2, sent_at: 5 });
  });
});
