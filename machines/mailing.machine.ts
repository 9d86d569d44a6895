// mailing/<id>: a park dispatcher's message to its drivers. `created` while the audience is
// resolved through parks, `sending` while batches go to feeds, then sent | cancelled | failed.
import { assign, emit, fromPromise, setup } from "xstate";
import { Schema } from "effect";
import { cancelTimer, reply, replyError, setTimer, type Delivered, type Effect } from "../actors/protocol.ts";

export const MailingFilter = Schema.Struct({
  work_rule: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Literals(["working", "online"])),
  include_contractor_ids: Schema.optional(Schema.Array(Schema.String)),
  exclude_contractor_ids: Schema.optional(Schema.Array(Schema.String)),
});
export type MailingFilter = typeof MailingFilter.Type;

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

export type MailingEvent =
  | (Delivered & { type: "create"; park_id: string; template_id: string; created_by: string; message: string; filter: MailingFilter })
  | (Delivered & { type: "cancel"; park_id: string })
  | (Delivered & { type: "retry" });

export interface BatchInput {
  mailing_id: string;
  park_id: string;
  batch_no: number;
  recipients: string[];
  message: string;
}

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
      throw new Error("resolveRecipients is provided by the runtime");
    }),
    /** Publishes one batch to feeds, idempotent by `(mailing_id, batch_no)`. */
    deliverBatch: fromPromise<{ at: number }, BatchInput>(async () => {
      throw new Error("deliverBatch is provided by the runtime");
    }),
  },
  guards: {
    ownedByCaller: ({ context, event }) => (event as { park_id?: string }).park_id === context.park_id,
    canRetry: ({ context }) => context.attempt < 5,
    lastBatch: ({ context }) => context.batches_done + 1 >= context.batches.length,
  },
  actions: {
    // After `countFailure`: the first retry waits the base delay, each next one twice as long.
    scheduleRetry: emit(({ context }) => setTimer("retry", 1_000 * 2 ** (context.attempt - 1), { type: "retry" })),
    /** Another park's cancel looks exactly like a cancel of a mailing that does not exist. */
    refuseForeignPark: emit(({ event }) => replyError((event as Delivered).replyTo, "not_found", "mailing not found")),
    countFailure: assign({
      attempt: ({ context }) => context.attempt + 1,
      last_error: ({ event }) => String((event as { error?: unknown }).error),
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
            emit(({ context, event }) => reply(event.replyTo, { mailing_id: context.id, template_id: event.template_id, status: "created" })),
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
              { guard: "canRetry", target: "waiting", actions: ["countFailure", "scheduleRetry"] },
              { target: "#mailing.failed", actions: "countFailure" },
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
              { guard: "canRetry", target: "waiting", actions: ["countFailure", "scheduleRetry"] },
              { target: "#mailing.failed", actions: "countFailure" },
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
