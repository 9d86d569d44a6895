// matching/<id>: one newbie's way through the mentorship programme (SPEC 3.3). `created` while the
// application is written to the CRM, `requested` until the CRM pairs a mentor, `matched` while
// both are told, `initialized` until the day-7 progress, `in_progress` until the day-14 result,
// `finished` until the mentor's promocode (`succeed`) or 14 days without one (`failed`).
// Day 7, day 14 and the promocode deadline are durable timers (the runtime's clock); every status
// change is appended to `transitions`, which the kind projects to `status_transitions`. The
// effects and the retry policy are the kind's: the machine names them.
import { Schema } from "effect";
import { assertEvent, assign, emit, fromPromise, setup } from "xstate";
import { cancelTimer, reply, setTimer, type Delivered, type Effect } from "../actors/protocol.ts";

export const MATCHING_STATUSES = ["created", "requested", "matched", "initialized", "in_progress", "finished", "succeed", "failed"] as const;
export type MatchingStatus = (typeof MATCHING_STATUSES)[number];

const DAY_MS = 86_400_000;
/** The programme's steps, counted from the CRM's pairing (`matched_at`). */
export const PROGRESS_DAYS = [7, 14] as const;
export type ProgressDay = (typeof PROGRESS_DAYS)[number];
/** A finished matching without a promocode for this long fails. */
export const PROMOCODE_WAIT_MS = 14 * DAY_MS;

/** `confirm`: the newbie joins (an ask, answered `{ matching_id, status }` now and on every repeat). */
export const ConfirmEvent = Schema.Struct({
  type: Schema.Literal("confirm"),
  newbie_park_id: Schema.NonEmptyString,
  newbie_driver_id: Schema.NonEmptyString,
});
export type ConfirmEvent = typeof ConfirmEvent.Type;

/** `matched`: the CRM paired a mentor at `connected_at` (epoch ms), from the matching import. */
export const MatchedEvent = Schema.Struct({
  type: Schema.Literal("matched"),
  mentor_park_id: Schema.NonEmptyString,
  mentor_driver_id: Schema.NonEmptyString,
  connected_at: Schema.Number,
});
export type MatchedEvent = typeof MatchedEvent.Type;

/** `promocode`: the CRM issued the mentor's promocode, from the promocode import. */
export const PromocodeEvent = Schema.Struct({
  type: Schema.Literal("promocode"),
  promocode: Schema.NonEmptyString,
});
export type PromocodeEvent = typeof PromocodeEvent.Type;

/** Durable timers: a failed step's retry, a progress day come (or its recheck), the promocode deadline. */
const TimerEvent = Schema.Struct({ type: Schema.Literals(["retry", "progress_due", "promocode_deadline"]) });

export type MatchingEvent = Delivered & (ConfirmEvent | MatchedEvent | PromocodeEvent | typeof TimerEvent.Type);

/** The CRM's progress figures of one day, as the `results` table keeps them. */
export type ProgressResult = Readonly<Record<string, unknown>>;

export interface StatusTransition {
  /** Position in the matching's history, from 1: `status_transitions` is unique by it. */
  seq: number;
  from: MatchingStatus | null;
  to: MatchingStatus;
  at: number;
}

export interface MatchingContext {
  id: string;
  newbie_park_id: string;
  newbie_driver_id: string;
  created_at: number;
  mentor_park_id: string | null;
  mentor_driver_id: string | null;
  /** When the CRM paired them (its `connected_dttm`): the programme's day 0. */
  matched_at: number | null;
  finished_at: number | null;
  /** When the programme ended: succeed or failed. */
  completed_at: number | null;
  mentor_promocode: string | null;
  results: { day: ProgressDay; result: ProgressResult }[];
  transitions: StatusTransition[];
  /** Failed attempts of the current step, reset by its success. */
  attempt: number;
  last_error: string | null;
}

/** One driver to tell something, as client-events takes it. */
export interface Notification {
  park_id: string;
  driver_id: string;
  event: string;
  payload: Record<string, unknown>;
}

/** A bulk push; `key` is per matching and step, so a repeated push reaches nobody twice. */
export interface NotifyInput {
  key: string;
  notifications: Notification[];
}

export interface ApplicationInput {
  matching_id: string;
  park_id: string;
  driver_id: string;
}

/** Every effect answers with the time it finished (runtime clock), which timers count from. */
export interface Done {
  at: number;
}

const newbie = (c: MatchingContext) => ({ park_id: c.newbie_park_id, driver_id: c.newbie_driver_id });
const mentor = (c: MatchingContext) => ({ park_id: c.mentor_park_id ?? "", driver_id: c.mentor_driver_id ?? "" });
const last = (c: MatchingContext): MatchingStatus | null => c.transitions.at(-1)?.to ?? null;

/** The status history with one more change. */
const appended = (c: MatchingContext, to: MatchingStatus, at: number): StatusTransition[] => [
  ...c.transitions,
  { seq: c.transitions.length + 1, from: last(c), to, at },
];

const confirmedReply = (c: MatchingContext) => ({ matching_id: c.id, status: last(c) });

/** When the given progress day comes. */
const dueAt = (c: MatchingContext, day: ProgressDay) => (c.matched_at ?? 0) + day * DAY_MS;

/** The notifications of each step. */
const matchedNotifications = (c: MatchingContext): NotifyInput => ({
  key: `${c.id}:matched`,
  notifications: [
    { ...newbie(c), event: "mentorship.mentor_assigned", payload: { matching_id: c.id, role: "newbie" } },
    { ...mentor(c), event: "mentorship.newbie_assigned", payload: { matching_id: c.id, role: "mentor" } },
  ],
});
const progressNotification = (c: MatchingContext, day: ProgressDay): NotifyInput => ({
  key: `${c.id}:day${day}`,
  notifications: [
    {
      ...mentor(c),
      event: day === 7 ? "mentorship.newbie_progress" : "mentorship.newbie_result",
      payload: { matching_id: c.id, day, result: { ...c.results.find((r) => r.day === day)?.result } },
    },
  ],
});
const promocodeNotification = (c: MatchingContext, promocode: string): NotifyInput => ({
  key: `${c.id}:promocode`,
  notifications: [{ ...mentor(c), event: "mentorship.promocode", payload: { matching_id: c.id, promocode } }],
});

/** What `countFailure` records of a failed invoke. */
const failure = ({ event }: { event: { error: unknown } }) => ({ error: event.error });

const matching = setup({
  types: {
    context: {} as MatchingContext,
    events: {} as MatchingEvent,
    input: {} as { id: string },
    emitted: {} as Effect,
  },
  actors: {
    /** Gathers city, rented car and phone and writes the CRM `new_drivers` row; idempotent by matching. */
    apply: fromPromise<Done, ApplicationInput>(async () => {
      throw new Error("apply is provided by the kind");
    }),
    /** Pushes the notifications to client-events in bulk, idempotent by `key`. */
    notify: fromPromise<Done, NotifyInput>(async () => {
      throw new Error("notify is provided by the kind");
    }),
    /** The CRM's result of that day for this matching; null while it has none. */
    readProgress: fromPromise<Done & { result: ProgressResult | null }, { matching_id: string; day: ProgressDay }>(async () => {
      throw new Error("readProgress is provided by the kind");
    }),
  },
  guards: {
    /** A progress timer (or its recheck) fired on or after that day. */
    dayCome: ({ context, event }, params: { day: ProgressDay }) => (event as Delivered).at >= dueAt(context, params.day),
    deadlinePassed: ({ context, event }) => context.finished_at !== null && (event as Delivered).at >= context.finished_at + PROMOCODE_WAIT_MS,
  },
  actions: {
    /** Sets the durable `retry` timer (after `countFailure`): the kind's retry policy. */
    scheduleRetry: () => {
      throw new Error("scheduleRetry is provided by the kind (its retry policy)");
    },
    /** Sets `progress_due` again for a day whose result the CRM has not written yet: the kind's policy. */
    scheduleRecheck: () => {
      throw new Error("scheduleRecheck is provided by the kind (its recheck policy)");
    },
    countFailure: assign({
      attempt: ({ context }) => context.attempt + 1,
      last_error: (_, params: { error: unknown }) => String(params.error),
    }),
  },
});

/**
 * A progress day: on its timer the CRM's result is read; none yet, the day is checked again later
 * (the kind's recheck policy); found, it is stored and the mentor told, then on to `next`.
 */
const progressStep = (day: ProgressDay, next: "in_progress" | "finished") =>
  matching.createStateConfig({
    initial: "waiting",
    states: {
      waiting: { on: { progress_due: { guard: { type: "dayCome", params: { day } }, target: "reading" } } },
      reading: {
        invoke: {
          id: `readProgress${day}`,
          src: "readProgress",
          input: ({ context }) => ({ matching_id: context.id, day }),
          onDone: [
            {
              guard: ({ event }) => event.output.result !== null,
              target: "notifying",
              actions: assign(({ context, event }) => ({
                results: [...context.results.filter((r) => r.day !== day), { day, result: event.output.result ?? {} }],
                attempt: 0,
              })),
            },
            { target: "waiting", actions: "scheduleRecheck" },
          ],
          onError: { target: "waiting", actions: [{ type: "countFailure", params: failure }, "scheduleRecheck"] },
        },
      },
      notifying: {
        invoke: {
          id: `notifyProgress${day}`,
          src: "notify",
          input: ({ context }) => progressNotification(context, day),
          onDone: {
            target: `#matching.${next}`,
            actions: assign(({ context, event }) => ({
              transitions: appended(context, next, event.output.at),
              attempt: 0,
              ...(next === "finished" ? { finished_at: event.output.at } : {}),
            })),
          },
          onError: { target: "retrying", actions: [{ type: "countFailure", params: failure }, "scheduleRetry"] },
        },
      },
      retrying: { on: { retry: "notifying" } },
    },
  });

export const matchingMachine = matching.createMachine({
  id: "matching",
  context: ({ input }) => ({
    id: input.id,
    newbie_park_id: "",
    newbie_driver_id: "",
    created_at: 0,
    mentor_park_id: null,
    mentor_driver_id: null,
    matched_at: null,
    finished_at: null,
    completed_at: null,
    mentor_promocode: null,
    results: [],
    transitions: [],
    attempt: 0,
    last_error: null,
  }),
  initial: "absent",
  on: {
    // A repeated confirm (another of the driver's bindings, a client's retry) gets the matching
    // as it stands; nothing starts again.
    confirm: { actions: emit(({ context, event }) => reply(event.replyTo, confirmedReply(context))) },
  },
  states: {
    /** Every address exists; this one has not been confirmed yet. */
    absent: {
      on: {
        confirm: {
          target: "created",
          actions: [
            assign(({ context, event }) => ({
              newbie_park_id: event.newbie_park_id,
              newbie_driver_id: event.newbie_driver_id,
              created_at: event.at,
              transitions: appended(context, "created", event.at),
            })),
            emit(({ context, event }) => reply(event.replyTo, confirmedReply(context))),
          ],
        },
      },
    },
    created: {
      initial: "applying",
      states: {
        applying: {
          invoke: {
            id: "apply",
            src: "apply",
            input: ({ context }) => ({ matching_id: context.id, ...newbie(context) }),
            onDone: {
              target: "#matching.requested",
              actions: assign(({ context, event }) => ({ transitions: appended(context, "requested", event.output.at), attempt: 0 })),
            },
            onError: { target: "retrying", actions: [{ type: "countFailure", params: failure }, "scheduleRetry"] },
          },
        },
        retrying: { on: { retry: "applying" } },
      },
    },
    requested: {
      on: {
        matched: {
          target: "matched",
          actions: assign(({ context, event }) => ({
            mentor_park_id: event.mentor_park_id,
            mentor_driver_id: event.mentor_driver_id,
            matched_at: event.connected_at,
            transitions: appended(context, "matched", event.at),
          })),
        },
      },
    },
    matched: {
      initial: "notifying",
      states: {
        notifying: {
          invoke: {
            id: "notifyMatched",
            src: "notify",
            input: ({ context }) => matchedNotifications(context),
            onDone: {
              target: "#matching.initialized",
              actions: assign(({ context, event }) => ({ transitions: appended(context, "initialized", event.output.at), attempt: 0 })),
            },
            onError: { target: "retrying", actions: [{ type: "countFailure", params: failure }, "scheduleRetry"] },
          },
        },
        retrying: { on: { retry: "notifying" } },
      },
    },
    initialized: {
      entry: emit(({ context }) => setTimer("progress", Math.max(0, dueAt(context, 7) - (context.transitions.at(-1)?.at ?? 0)), { type: "progress_due" })),
      ...progressStep(7, "in_progress"),
    },
    in_progress: {
      entry: emit(({ context }) => setTimer("progress", Math.max(0, dueAt(context, 14) - (context.transitions.at(-1)?.at ?? 0)), { type: "progress_due" })),
      ...progressStep(14, "finished"),
    },
    finished: {
      entry: emit(() => setTimer("promocode_deadline", PROMOCODE_WAIT_MS, { type: "promocode_deadline" })),
      initial: "waiting",
      on: {
        promocode_deadline: {
          guard: "deadlinePassed",
          target: "failed",
          actions: assign(({ context, event }) => ({ completed_at: event.at, transitions: appended(context, "failed", event.at) })),
        },
      },
      states: {
        waiting: {
          on: {
            promocode: {
              target: "notifying",
              actions: assign(({ event }) => {
                assertEvent(event, "promocode");
                return { mentor_promocode: event.promocode };
              }),
            },
          },
        },
        notifying: {
          // The promocode arrived: the deadline no longer applies, even if telling the mentor takes retries.
          on: { promocode_deadline: {} },
          invoke: {
            id: "notifyPromocode",
            src: "notify",
            input: ({ context }) => promocodeNotification(context, context.mentor_promocode ?? ""),
            onDone: {
              target: "#matching.succeed",
              actions: assign(({ context, event }) => ({
                completed_at: event.output.at,
                transitions: appended(context, "succeed", event.output.at),
                attempt: 0,
              })),
            },
            onError: { target: "retrying", actions: [{ type: "countFailure", params: failure }, "scheduleRetry"] },
          },
        },
        retrying: { on: { retry: "notifying", promocode_deadline: {} } },
      },
    },
    succeed: { type: "final", entry: emit(() => cancelTimer("promocode_deadline")) },
    failed: { type: "final", entry: emit(() => cancelTimer("retry")) },
  },
});

/** The status a matching's state value stands for (its top-level state; `absent` before confirm). */
export const statusOf = (context: MatchingContext): MatchingStatus | null => last(context);
