// mailing/<id> as hosted by the runtime: the machine's effects bound to parks and feeds, its
// retry policy (only here), its `mailings` projection and its public event.
import { emit, fromPromise } from "xstate";
import { PartnerProtocolError, PartnerRejectedError } from "../../integrations/errors.ts";
import { defineActorKind, topState, type ActorKind, type JournaledEvent, type ProjectedActor } from "../../actors/ActorKind.ts";
import { setTimer } from "../../actors/protocol.ts";
import {
  mailingMachine,
  type BatchInput,
  type MailingContext,
  type MailingFilter,
  CreateMailingEvent,
  CancelMailingEvent,
  RetryMailingEvent,
} from "../../machines/mailing.machine.ts";
import { mailingStatements, type MailingRow } from "../../storage/mailingRepository.ts";
import type { Parks } from "../../integrations/parks/index.ts";
import type { Feeds } from "../../integrations/feeds/index.ts";

export interface MailingPolicy {
  /** Recipients per feeds publish. */
  batchSize: number;
  /** Attempts of one step (resolving the audience, delivering a batch) before the mailing fails. */
  maxAttempts: number;
  /** Wait before the first retry of a step; each next one waits twice as long. */
  retryBaseMs: number;
}

/** A partner's answer no retry changes: it refused the request (4xx but 429) or broke the contract. */
const isPermanent = (error: unknown) => error instanceof PartnerRejectedError || error instanceof PartnerProtocolError;

/**
 * The retry policy as the machine's `canRetry` guard and `scheduleRetry` action, which the
 * machine leaves to its kind.
 * @example mailingMachine.provide({ ...mailingRetry({ maxAttempts: 5, retryBaseMs: 1_000 }), actors })
 */
export function mailingRetry(policy: Pick<MailingPolicy, "maxAttempts" | "retryBaseMs">) {
  return {
    guards: {
      // Evaluated before `countFailure`: with this failure, `attempt + 1` attempts have failed. A
      // partner refusing the request itself (4xx) or answering off contract fails the step at once.
      canRetry: ({ context, event }) => !isPermanent((event as { error?: unknown }).error) && context.attempt + 1 < policy.maxAttempts,
    },
    actions: {
      // After `countFailure`: the first retry waits the base delay, each next one twice as long.
      scheduleRetry: emit(({ context }) => setTimer("retry", policy.retryBaseMs * 2 ** (context.attempt - 1), { type: "retry" })),
    },
  } satisfies MailingImplementations;
}

type MailingImplementations = Parameters<typeof mailingMachine.provide>[0];

/** The `mailings` row of a mailing actor's committed state (none while it is `absent`). */
export function mailingRow({ value, context: c, at }: ProjectedActor<MailingContext>): MailingRow {
  return {
    id: c.id,
    park_id: c.park_id,
    template_id: c.template_id,
    created_at: new Date(c.created_at),
    created_by: c.created_by,
    status: topState(value),
    updated_at: new Date(at),
    recipients_count: c.recipients_count,
    sent_at: c.sent_at === null ? null : new Date(c.sent_at),
  };
}

export function mailingKind(deps: { parks: Parks; feeds: Feeds; now: () => number; policy: MailingPolicy }): ActorKind<MailingContext> {
  const { policy } = deps;
  const retry = mailingRetry(policy);
  const machine = mailingMachine.provide({
    actors: {
      resolveRecipients: fromPromise(async ({ input }: { input: { park_id: string; filter: MailingFilter } }) => {
        const ids = await deps.parks.listDrivers({
          parkId: input.park_id,
          ...(input.filter.work_rule === undefined ? {} : { workRule: input.filter.work_rule }),
          ...(input.filter.status === undefined ? {} : { status: input.filter.status }),
          ...(input.filter.include_contractor_ids ? { includeContractorIds: input.filter.include_contractor_ids } : {}),
          ...(input.filter.exclude_contractor_ids ? { excludeContractorIds: input.filter.exclude_contractor_ids } : {}),
        });
        const batches: string[][] = [];
        for (let i = 0; i < ids.length; i += policy.batchSize) batches.push(ids.slice(i, i + policy.batchSize));
        return { batches, count: ids.length };
      }),
      deliverBatch: fromPromise(async ({ input }: { input: BatchInput }) => {
        // The key makes a redelivered batch (retry, restart mid-batch) a no-op at feeds.
        await deps.feeds.publish({
          idempotencyKey: `${input.mailing_id}:${input.batch_no}`,
          parkId: input.park_id,
          recipients: input.recipients,
          message: input.message,
        });
        return { at: deps.now() };
      }),
    },
    guards: retry.guards,
    actions: retry.actions,
  });
  return defineActorKind<MailingContext>({
    type: "mailing",
    events: [CreateMailingEvent, CancelMailingEvent, RetryMailingEvent],
    machine,
    version: 1,
    project: (sql, actors, accepted) => mailingStatements(sql, actors.filter((a) => a.value !== "absent").map(mailingRow), accepted),
    publicEvent: ({ context: c }) => ({ park_id: c.park_id, template_id: c.template_id, recipients_count: c.recipients_count }),
    // The text written to drivers lives in its template; the journal names the template only.
    journaled: ({ message: _message, ...event }) => event as JournaledEvent,
  });
}
