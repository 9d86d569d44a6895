// mailing/<id> as hosted by the runtime: the machine's effects bound to parks and feeds, its
// retry policy, its `mailings` projection and its public event.
import { emit, fromPromise } from "xstate";
import { defineActorKind, type ActorKind } from "../../actors/ActorKind.ts";
import { setTimer } from "../../actors/protocol.ts";
import { mailingMachine, type BatchInput, type MailingContext, type MailingFilter } from "../../machines/mailing.machine.ts";
import { projectMailings } from "../../storage/mailingRepository.ts";
import type { Parks } from "../../integrations/parks/index.ts";
import type { Feeds } from "../../integrations/feeds/index.ts";

export interface MailingPolicy {
  batchSize: number;
  maxAttempts: number;
  retryBaseMs: number;
}

export function mailingKind(deps: { parks: Parks; feeds: Feeds; now: () => number; policy: MailingPolicy }): ActorKind {
  const { policy } = deps;
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
    guards: {
      canRetry: ({ context }) => context.attempt + 1 < policy.maxAttempts,
    },
    actions: {
      scheduleRetry: emit(({ context }) => setTimer("retry", policy.retryBaseMs * 2 ** (context.attempt - 1), { type: "retry" })),
    },
  });
  return defineActorKind({
    type: "mailing",
    machine,
    version: 1,
    project: projectMailings,
    publicEvent: ({ context }) => {
      const c = context as MailingContext;
      return { park_id: c.park_id, template_id: c.template_id, recipients_count: c.recipients_count };
    },
  });
}
