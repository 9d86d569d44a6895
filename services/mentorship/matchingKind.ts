// matching/<id> as hosted by the runtime: the machine's effects (application, notifications,
// progress reads) bound to the partners, its retry and recheck policy (only here), its
// `matchings` / `status_transitions` / `results` projection and its public event.
import { emit, fromPromise } from "xstate";
import { defineActorKind, type ActorKind } from "../../actors/ActorKind.ts";
import { setTimer } from "../../actors/protocol.ts";
import {
  matchingMachine,
  statusOf,
  type ApplicationInput,
  type MatchingContext,
  type NotifyInput,
  type ProgressDay,
  type ProgressResult,
} from "../../machines/matching.machine.ts";
import { projectMatchings } from "./projection.ts";

export interface MatchingPolicy {
  /** First retry of a failed step (application, a notification); doubles per attempt up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A progress day whose result the CRM has not written yet (or could not be read) is checked again this much later. */
  recheckMs: number;
}

/** What the machine's steps do, as the service wires them to the partners. */
export interface MatchingEffects {
  /** The newbie's application in the CRM `new_drivers` table: complete or not at all, idempotent by matching. */
  apply(input: ApplicationInput, signal: AbortSignal): Promise<void>;
  /** One bulk push to client-events, idempotent by `input.key`. */
  notify(input: NotifyInput, signal: AbortSignal): Promise<void>;
  /** The CRM's result of that day for the matching; null while there is none. */
  readProgress(matchingId: string, day: ProgressDay, signal: AbortSignal): Promise<ProgressResult | null>;
}

/**
 * The retry and recheck policy as the machine's `scheduleRetry` and `scheduleRecheck` actions,
 * which the machine leaves to its kind.
 * @example matchingMachine.provide({ actions: matchingRetry({ retryBaseMs: 1_000, retryMaxMs: 3_600_000, recheckMs: 3_600_000 }) })
 */
export function matchingRetry(policy: MatchingPolicy) {
  return {
    // After `countFailure`: the first retry waits the base delay, each next one twice as long, capped.
    scheduleRetry: emit(({ context }) =>
      setTimer("retry", Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** Math.max(0, context.attempt - 1)), { type: "retry" }),
    ),
    scheduleRecheck: emit(() => setTimer("progress", policy.recheckMs, { type: "progress_due" })),
  } satisfies NonNullable<Parameters<typeof matchingMachine.provide>[0]["actions"]>;
}

export function matchingKind(deps: { effects: MatchingEffects; now: () => number; policy: MatchingPolicy }): ActorKind<MatchingContext> {
  const { effects, now } = deps;
  const machine = matchingMachine.provide({
    actors: {
      apply: fromPromise(async ({ input, signal }: { input: ApplicationInput; signal: AbortSignal }) => {
        await effects.apply(input, signal);
        return { at: now() };
      }),
      notify: fromPromise(async ({ input, signal }: { input: NotifyInput; signal: AbortSignal }) => {
        await effects.notify(input, signal);
        return { at: now() };
      }),
      readProgress: fromPromise(async ({ input, signal }: { input: { matching_id: string; day: ProgressDay }; signal: AbortSignal }) => ({
        result: await effects.readProgress(input.matching_id, input.day, signal),
        at: now(),
      })),
    },
    actions: matchingRetry(deps.policy),
  });
  return defineActorKind<MatchingContext>({
    type: "matching",
    machine,
    version: 1,
    // Events are idempotent by state (a repeated import finds the matching moved on); ids only catch a timer fired twice.
    rememberedIds: 16,
    project: (tx, actors) => projectMatchings(tx, actors),
    projected: ({ context: c }) => [c.transitions.length, c.results.length, c.mentor_promocode],
    // Outside services care about the programme's status, not the steps inside one.
    published: ({ context: c }) => [statusOf(c)],
    publicEvent: ({ context: c }) => ({
      status: statusOf(c),
      newbie_park_id: c.newbie_park_id,
      newbie_driver_id: c.newbie_driver_id,
      mentor_park_id: c.mentor_park_id,
      mentor_driver_id: c.mentor_driver_id,
    }),
  });
}
