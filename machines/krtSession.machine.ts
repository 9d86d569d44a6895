// krt-session/<driver_license_pd_id>: one person's connectivity as KRT must learn it. Statuses
// of each of his park profiles arrive (from the status stream) ordered by their own time, stale
// ones refused; the person is connected while any profile is. Once his KRT id is bound, the
// latest connectivity not yet reported is sent; KRT answers with his shift (session) status and
// its end. While KRT is down only the latest value waits, retried after a durable backoff timer.
// While our rate limit holds reports back long, a report waits for its turn asleep (`queued`, a
// durable timer), not as a call held in memory.
import { Schema } from "effect";
import { and, assertEvent, assign, emit, fromPromise, setup } from "xstate";
import { reply, type Delivered, type Effect } from "../actors/protocol.ts";

export type SessionStatus = "active" | "paused" | "ended" | "none";

/** Connected or not, as of `at` (epoch ms: when the driver's status changed, not when we heard). */
export interface Connectivity {
  connected: boolean;
  at: number;
}

/** The newest status seen of one of the person's park profiles (`park_id/driver_id`). */
export interface ProfileConnectivity extends Connectivity {
  profile: string;
}

export interface KrtSessionContext {
  /** The driver licence's personal id: the address id. */
  id: string;
  /** The person's KRT id; null until bound. Never leaves the service except to KRT. */
  deptrans_id: string | null;
  bound_at: number | null;
  /**
   * Newest status seen per park profile: older reports are refused. A list, not a record keyed by
   * profile: such keys are unique per driver, and V8 gives each object with its own key a hidden
   * class of its own, slow to create, parse and serialise (a person has one to a few profiles).
   */
  profiles: ProfileConnectivity[];
  /** The person's connectivity waiting to be reported; only the latest is kept. */
  pending: Connectivity | null;
  /** Being reported to KRT right now. */
  inflight: Connectivity | null;
  last_sent: (Connectivity & { sent_at: number }) | null;
  /** KRT's latest answer; `seq` counts changes (status or end), so each is written to history once. */
  session: { status: SessionStatus; ended_at: number | null; updated_at: number; seq: number } | null;
  /** Failed reports in a row while KRT is unreachable; reset by an answer. */
  attempt: number;
  last_error: string | null;
}

/** A KRT id as drivers type it: 10 to 20 digits. */
export const KrtId = Schema.String.check(Schema.isPattern(/^\d{10,20}$/, { message: "expected a KRT id of 10 to 20 digits" }));

/** A status of one of the person's park profiles, as of `status_at` (epoch ms), from the status stream. */
export const ConnectivityEvent = Schema.Struct({
  type: Schema.Literal("connectivity"),
  park_id: Schema.NonEmptyString,
  driver_id: Schema.NonEmptyString,
  connected: Schema.Boolean,
  status_at: Schema.Number,
});
export type ConnectivityEvent = typeof ConnectivityEvent.Type;

/** The driver's KRT id, checked against his licence in KRT; an ask, answered `{ bound: true }`. */
export const BindEvent = Schema.Struct({ type: Schema.Literal("bind"), deptrans_id: KrtId });
export type BindEvent = typeof BindEvent.Type;

/** The durable backoff timer fired. */
export const RetryEvent = Schema.Struct({ type: Schema.Literal("retry") });
export type RetryEvent = typeof RetryEvent.Type;

/** The report's promised turn at the rate limit came (a durable timer). */
export const TurnEvent = Schema.Struct({ type: Schema.Literal("turn") });
export type TurnEvent = typeof TurnEvent.Type;

export type KrtSessionEvent = Delivered & (ConnectivityEvent | BindEvent | RetryEvent | TurnEvent);

export interface SendInput {
  deptrans_id: string;
  connected: boolean;
  at: number;
}

/** KRT answered (`session`) or refused the report for good (`rejected`, e.g. an id it does not know). */
export type SendOutput =
  | { outcome: "answered"; session: { status: SessionStatus; ended_at: number | null }; at: number }
  | { outcome: "rejected"; reason: string; at: number };

const profileKey = (e: { park_id: string; driver_id: string }) => `${e.park_id}/${e.driver_id}`;

const profileOf = (c: KrtSessionContext, profile: string) => c.profiles.find((p) => p.profile === profile);

/**
 * Whether the person works (is connected to order dispatch) as the service knows it: once bound,
 * what KRT last confirmed; before, whether any of his profiles is online or busy.
 */
export const isConnected = (c: KrtSessionContext): boolean => (c.deptrans_id === null ? c.profiles.some((p) => p.connected) : c.last_sent?.connected === true);

/** The connectivity KRT will have once everything pending lands. */
const known = (c: KrtSessionContext): Connectivity | null => c.pending ?? c.inflight ?? c.last_sent;

/** Records a profile's newer status; a change of the person's connectivity becomes pending. */
function absorb(c: KrtSessionContext, e: ConnectivityEvent): Pick<KrtSessionContext, "profiles" | "pending"> {
  const profile = profileKey(e);
  const profiles = [...c.profiles.filter((p) => p.profile !== profile), { profile, connected: e.connected, at: e.status_at }];
  const connected = profiles.some((p) => p.connected);
  // What KRT has, or will have once the report under way lands: equal means nothing to report.
  // After a failed report KRT may or may not have that value (a lost answer), so it is not a base.
  const base = c.inflight ?? (c.attempt > 0 ? null : c.last_sent);
  if (base?.connected === connected) return { profiles, pending: null };
  if (c.pending?.connected === connected) return { profiles, pending: c.pending };
  // Another profile's late status may flip the person: report it no earlier than what KRT has.
  const before = c.pending ?? base;
  return { profiles, pending: { connected, at: Math.max(e.status_at, before?.at ?? e.status_at) } };
}

export const krtSessionMachine = setup({
  types: {
    context: {} as KrtSessionContext,
    events: {} as KrtSessionEvent,
    input: {} as { id: string },
    emitted: {} as Effect,
  },
  actors: {
    /** Reports one connectivity to KRT; repeating it is harmless (KRT keeps the session). */
    sendConnectivity: fromPromise<SendOutput, SendInput>(async () => {
      throw new Error("sendConnectivity is provided by the runtime");
    }),
  },
  guards: {
    /** Newer than the newest status of that profile: order is by the status's own time, not arrival. */
    isNewer: ({ context, event }) => {
      assertEvent(event, "connectivity");
      return event.status_at > (profileOf(context, profileKey(event))?.at ?? Number.NEGATIVE_INFINITY);
    },
    hasPending: ({ context }) => context.pending !== null,
    /** A report made now would wait long for the rate limit: provided by the kind, which knows the limit. */
    reportWaits: () => false,
    anotherId: ({ context, event }) => {
      assertEvent(event, "bind");
      return event.deptrans_id !== context.deptrans_id;
    },
  },
  actions: {
    absorb: assign(({ context, event }) => {
      assertEvent(event, "connectivity");
      return absorb(context, event);
    }),
    bind: assign(({ context, event }) => {
      assertEvent(event, "bind");
      return {
        deptrans_id: event.deptrans_id,
        bound_at: event.at,
        // A new id has heard nothing yet: the current connectivity is reported to it. What the
        // old id was sent, or is being sent (that report is dropped), tells nothing about the new one.
        pending: known(context),
        inflight: null,
        last_sent: null,
      };
    }),
    replyBound: emit(({ event }) => {
      assertEvent(event, "bind");
      return reply(event.replyTo, { bound: true });
    }),
    /**
     * Sets the durable `retry` timer (a `timer.set` effect) after a failed report, `context.attempt`
     * failures in a row: provided by the kind, whose backoff policy is the only one.
     */
    scheduleRetry: () => {
      throw new Error("scheduleRetry is provided by the kind");
    },
    /** Sets the durable `turn` timer for the turn the rate limit promises (a `timer.set` effect): provided by the kind. */
    awaitTurn: () => {
      throw new Error("awaitTurn is provided by the kind");
    },
  },
}).createMachine({
  id: "krtSession",
  context: ({ input }) => ({
    id: input.id,
    deptrans_id: null,
    bound_at: null,
    profiles: [],
    pending: null,
    inflight: null,
    last_sent: null,
    session: null,
    attempt: 0,
    last_error: null,
  }),
  initial: "unbound",
  states: {
    /** No KRT id yet: statuses are tracked, the latest waits for the bind. */
    unbound: {
      on: {
        connectivity: { guard: "isNewer", actions: "absorb" },
        bind: { target: "bound", actions: ["bind", "replyBound"] },
      },
    },
    bound: {
      initial: "idle",
      on: {
        connectivity: { guard: "isNewer", actions: "absorb" },
        // Another id starts over from `idle`: a report under way goes to the old id, so its answer
        // must not count as the new id's (it would clear the report the new id waits for).
        bind: [{ guard: "anotherId", target: ".idle", actions: ["bind", "replyBound"] }, { actions: "replyBound" }],
      },
      states: {
        idle: {
          always: [
            { guard: and(["hasPending", "reportWaits"]), target: "queued" },
            { guard: "hasPending", target: "sending" },
          ],
        },
        /**
         * The report waits for its turn at our rate limit holding nothing but its snapshot: the
         * `turn` timer fires at the turn promised. What arrives meanwhile only changes what it
         * will say; nothing left to say by then, it goes back to idle.
         */
        queued: {
          entry: "awaitTurn",
          on: { turn: [{ guard: "hasPending", target: "sending" }, { target: "idle" }] },
        },
        sending: {
          entry: assign(({ context }) => ({ inflight: context.pending, pending: null })),
          invoke: {
            id: "sendConnectivity",
            src: "sendConnectivity",
            input: ({ context }) => ({ deptrans_id: context.deptrans_id!, connected: context.inflight!.connected, at: context.inflight!.at }),
            onDone: [
              {
                guard: ({ event }) => event.output.outcome === "rejected",
                target: "idle",
                actions: assign(({ event }) => ({
                  inflight: null,
                  attempt: 0,
                  last_error: event.output.outcome === "rejected" ? `rejected: ${event.output.reason}` : null,
                })),
              },
              {
                target: "idle",
                actions: assign(({ context, event }) => {
                  const sent = { ...context.inflight!, sent_at: event.output.at };
                  const answer = event.output.outcome === "answered" ? event.output.session : { status: "none" as const, ended_at: null };
                  const changed = !context.session || context.session.status !== answer.status || context.session.ended_at !== answer.ended_at;
                  return {
                    inflight: null,
                    last_sent: sent,
                    // A value that arrived meanwhile and equals what KRT now has needs no report.
                    pending: context.pending?.connected === sent.connected ? null : context.pending,
                    session: changed ? { ...answer, updated_at: event.output.at, seq: (context.session?.seq ?? 0) + 1 } : context.session,
                    attempt: 0,
                    last_error: null,
                  };
                }),
              },
            ],
            onError: {
              target: "backoff",
              actions: [
                assign(({ context, event }) => ({
                  // Only the latest value waits: a newer pending one replaces the value that failed.
                  // It is sent even if it equals `last_sent`: the failed report may have reached KRT.
                  pending: context.pending ?? context.inflight,
                  inflight: null,
                  attempt: context.attempt + 1,
                  last_error: String(event.error),
                })),
                "scheduleRetry",
              ],
            },
          },
        },
        /** KRT is unreachable; a durable timer brings the actor back to `sending`, after restarts too. */
        backoff: { on: { retry: "sending" } },
      },
    },
  },
});
