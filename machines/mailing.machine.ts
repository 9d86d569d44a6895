// mailing/<id>: a park dispatcher's message to its drivers. `created` while the audience is
// resolved through parks, `sending` while batches go to feeds, then sent | cancelled | failed.
// The retry policy (how often, how long to wait) and the effects are the kind's: the machine
// names them and the kind provides them.
import { assertEvent, assign, emit, fromPromise, setup } from "xstate";
import { Schema } from "effect";
import { cancelTimer, reply, replyError, type Delivered, type Effect } from "../actors/protocol.ts";

const ContractorIds = Schema.Array(Schema.NonEmptyString).check(Schema.isMaxLength(10_000));

/** Which of the park's drivers receive a mailing (all absent: every driver of the park). */
export const MailingFilter = Schema.Struct({
  work_rule: Schema.optional(Schema.NonEmptyString),
  status: Schema.optional(Schema.Literals(["working", "online"])),
  // Empty would mean nobody; absent means everybody: an empty list is refused, never read as "all".
  include_contractor_ids: Schema.optional(ContractorIds.check(Schema.isMinLength(1))),
  exclude_contractor_ids: Schema.optional(ContractorIds),
});
export type MailingFilter = typeof MailingFilter.Type;

/** `create`: the mailing of this park's template, sent to the drivers `filter` selects. */
export const CreateMailingEvent = Schema.Struct({
  type: Schema.Literal("create"),
  park_id: Schema.String,
  template_id: Schema.NonEmptyString,
  created_by: Schema.String,
  message: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4000)),
  filter: MailingFilter,
});
export type CreateMailingEvent = typeof CreateMailingEvent.Type;

/** `cancel`: stops the mailing unless it is over; only its own park may. */
export const CancelMailingEvent = Schema.Struct({
  type: Schema.Literal("cancel"),
  park_id: Schema.String,
});
export type CancelMailingEvent = typeof CancelMailingEvent.Type;

/** `retry`: the durable retry timer fired; the failed step runs again. */
export const RetryMailingEvent = Schema.Struct({ type: Schema.Literal("retry") });
export type RetryMailingEvent = typeof RetryMailingEvent.Type;

export interface MailingContext {
  id: string;
  park_id: string;
  template_id: string;
  created_by: string;
  created_at: number;
  message: string;
  filter: MailingFilter;
  /** Recipients split into feeds batches once the audience is resolved. */
  batches: string[][];
  batches_done: number;
  recipients_count: number | null;
  /** Failed attempts of the current step, reset by each success. */
  attempt: number;
  sent_at: number | null;
  last_error: string | null;
}

export type MailingEvent = (Delivered & CreateMailingEvent) | (Delivered & CancelMailingEvent) | (Delivered & RetryMailingEvent);

export interface BatchInput {
  mailing_id: string;
  park_id: string;
  batch_no: number;
  recipients: string[];
  message: string;
}

/** What `countFailure` records of a failed invoke. */
const failure = ({ event }: { event: { error: unknown } }) => ({ error: event.error });

/** The answer to `create`: the same for the first one and every repeat. */
const createdReply = (context: MailingContext) => ({ mailing_id: context.id, template_id: context.template_id, status: "created" });

export const mailingMachine = setup({
  types: {
    context: {} as MailingContext,
    events: {} as MailingEvent,
    input: {} as { id: string },
    emitted: {} as Effect,
  },
  actors: {
    /** Resolves the filter to driver ids through parks and splits them into batches. */
    resolveRecipients: fromPromise<{ batches: string[][]; count: number }, { park_id: string; filter: MailingFilter }>(async () => {
      throw new Error("resolveRecipients is provided by the kind");
    }),
    /** Publishes one batch to feeds, idempotent by `(mailing_id, batch_no)`. */
    deliverBatch: fromPromise<{ at: number }, BatchInput>(async () => {
      throw new Error("deliverBatch is provided by the kind");
    }),
  },
  guards: {
    ownedByCaller: ({ context, event }) => {
      assertEvent(event, "cancel");
      return event.park_id === context.park_id;
    },
    /** Whether a failed step gets another attempt (evaluated before `countFailure`): the kind's retry policy. */
    canRetry: (): boolean => {
      throw new Error("canRetry is provided by the kind (its retry policy)");
    },
    lastBatch: ({ context }) => context.batches_done + 1 >= context.batches.length,
  },
  actions: {
    /** Sets the durable `retry` timer (after `countFailure`): the kind's retry policy. */
    scheduleRetry: () => {
      throw new Error("scheduleRetry is provided by the kind (its retry policy)");
    },
    /** Another park's cancel looks exactly like a cancel of a mailing that does not exist. */
    refuseForeignPark: emit(({ event }) => {
      assertEvent(event, "cancel");
      return replyError(event.replyTo, "not_found", "mailing not found");
    }),
    countFailure: assign({
      attempt: ({ context }) => context.attempt + 1,
      last_error: (_, params: { error: unknown }) => String(params.error),
    }),
  },
}).createMachine({
  id: "mailing",
  context: ({ input }) => ({
    id: input.id,
    park_id: "",
    template_id: "",
    created_by: "",
    created_at: 0,
    message: "",
    filter: {},
    batches: [],
    batches_done: 0,
    recipients_count: null,
    attempt: 0,
    sent_at: null,
    last_error: null,
  }),
  initial: "absent",
  on: {
    // A repeated create (a client's retry under its Idempotency-Key, which names this mailing)
    // gets the first one's answer, whatever the mailing has done since; nothing happens again.
    create: { actions: emit(({ context, event }) => reply(event.replyTo, createdReply(context))) },
  },
  states: {
    /** Every address exists; this one has not been created yet. */
    absent: {
      on: {
        create: {
          target: "created",
          actions: [
            assign(({ event }) => ({
              park_id: event.park_id,
              template_id: event.template_id,
              created_by: event.created_by,
              created_at: event.at,
              message: event.message,
              filter: event.filter,
            })),
            emit(({ context, event }) => reply(event.replyTo, createdReply(context))),
          ],
        },
      },
    },
    created: {
      initial: "resolving",
      on: { cancel: [{ guard: "ownedByCaller", target: "cancelled" }, { actions: "refuseForeignPark" }] },
      states: {
        resolving: {
          invoke: {
            id: "resolveRecipients",
            src: "resolveRecipients",
            input: ({ context }) => ({ park_id: context.park_id, filter: context.filter }),
            onDone: [
              {
                guard: ({ event }) => event.output.count === 0,
                target: "#mailing.sent",
                actions: assign({ recipients_count: 0, attempt: 0, sent_at: ({ context }) => context.created_at }),
              },
              {
                target: "#mailing.sending",
                actions: assign({ batches: ({ event }) => event.output.batches, recipients_count: ({ event }) => event.output.count, attempt: 0 }),
              },
            ],
            onError: [
              { guard: "canRetry", target: "waiting", actions: [{ type: "countFailure", params: failure }, "scheduleRetry"] },
              { target: "#mailing.failed", actions: { type: "countFailure", params: failure } },
            ],
          },
        },
        waiting: { on: { retry: "resolving" } },
      },
    },
    sending: {
      initial: "delivering",
      on: { cancel: [{ guard: "ownedByCaller", target: "cancelled" }, { actions: "refuseForeignPark" }] },
      states: {
        delivering: {
          invoke: {
            id: "deliverBatch",
            src: "deliverBatch",
            input: ({ context }) => ({
              mailing_id: context.id,
              park_id: context.park_id,
              batch_no: context.batches_done,
              recipients: context.batches[context.batches_done] ?? [],
              message: context.message,
            }),
            onDone: [
              {
                guard: "lastBatch",
                target: "#mailing.sent",
                actions: assign({ batches_done: ({ context }) => context.batches_done + 1, attempt: 0, sent_at: ({ event }) => event.output.at }),
              },
              { target: "delivering", reenter: true, actions: assign({ batches_done: ({ context }) => context.batches_done + 1, attempt: 0 }) },
            ],
            onError: [
              { guard: "canRetry", target: "waiting", actions: [{ type: "countFailure", params: failure }, "scheduleRetry"] },
              { target: "#mailing.failed", actions: { type: "countFailure", params: failure } },
            ],
          },
        },
        waiting: { on: { retry: "delivering" } },
      },
    },
    sent: { type: "final" },
    cancelled: { type: "final", entry: emit(() => cancelTimer("retry")) },
    failed: { type: "final" },
  },
});
