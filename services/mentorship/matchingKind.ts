// matching/<id> as hosted by the runtime: the machine's effects (application, notifications)
// bound to the partners, its retry policy (only here), its `matchings` / `status_transitions` /
// `results` projection and its public event.
import { emit, fromPromise } from "xstate";
import { defineActorKind, type ActorKind } from "../../actors/ActorKind.ts";
import { setTimer } from "../../actors/protocol.ts";
import {
  matchingMachine,
  statusOf,
  type ApplicationInput,
  type MatchingContext,
  type NotifyInput,
  ConfirmEvent,
  MatchedEvent,
  ProgressEvent,
  PromocodeEvent,
} from "../../machines/matching.machine.ts";
import { projectMatchings } from "./projection.ts";

export interface MatchingPolicy {
  /** First retry of a failed step (application, a notification); doubles per attempt up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
}

/** What the machine's steps do, as the service wires them to the partners. */
export interface MatchingEffects {
  /** The newbie's application in the CRM `new_drivers` table: complete or not at all, idempotent by matching. */
  apply(input: ApplicationInput, signal: AbortSignal): Promise<void>;
  /** One bulk push to client-events, idempotent by `input.key`. */
  notify(input: NotifyInput, signal: AbortSignal): Promise<void>;
}

/**
 * The retry policy as the machine's `scheduleRetry` action, which the machine leaves to its kind.
 * @example matchingMachine.provide({ actions: matchingRetry({ retryBaseMs: 1_000, retryMaxMs: 3_600_000 }) })
 */
export function matchingRetry(policy: MatchingPolicy) {
  return {
    // After `countFailure`: the first retry waits the base delay, each next one twice as long, capped.
    scheduleRetry: emit(({ context }) =>
      setTimer("retry", Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** Math.max(0, context.attempt - 1)), { type: "retry" }),
    ),
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
    },
    actions: matchingRetry(deps.policy),
  });
  return defineActorKind<MatchingContext>({
    type: "matching",
    events: [ConfirmEvent, MatchedEvent, ProgressEvent, PromocodeEvent],
    machine,
    version: 2,
    // 2: progress comes from the progress import; a matching that was reading its own waits for it.
    migrate: withoutProgressRead,
    // Events are idempotent by state (a repeated import finds the matching moved on); ids only catch a timer fired twice.
    rememberedIds: 16,
    project: projectMatchings,
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

/** A version-1 snapshot reading its progress (`reading`, with its invoke) as one waiting for the progress import. */
// biome-ignore lint/suspicious/noExplicitAny: a version-1 snapshot has no type of today's code.
function withoutProgressRead(snapshot: any): any {
  const [status, step] = Object.entries(snapshot.value ?? {})[0] ?? [];
  if (step !== "reading") return snapshot;
  const { readProgress7: _7, readProgress14: _14, ...children } = snapshot.children ?? {};
  return { ...snapshot, value: { [status as string]: "waiting" }, children };
}
