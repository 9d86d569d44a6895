// tellSessions: the status stream's last step (SPEC 3.2), telling each session actor and
// acknowledging the JetStream message once the actor committed.
import { asyncScheduler, from, Observable, type MonoTypeOperatorFunction, type ObservableInput, type SchedulerLike, type Subscription } from "rxjs";
import type { ConnectivityChange, CountOutcome } from "./statusMessages.ts";

export interface TellOptions {
  /** Tells in flight at once; beyond it, coalesced changes wait (unacknowledged, so bounded by the consumer's ack limit). */
  readonly concurrency: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /**
   * Attempts after which a tell the actor keeps refusing for what it says (see `isPoison`) is
   * given up: dead-lettered with the reason, then acknowledged. Failures of the way there (an
   * actor moving, the database down) are retried for as long as they last. Default 5.
   */
  readonly maxPoisonAttempts?: number;
  readonly scheduler?: SchedulerLike;
}

/**
 * Refusals no retry can change: the database refuses the change (`commit_rejected`), the actor's
 * machine throws on it (`actor_failed`), or there is no such actor kind.
 */
export const isPoison = (error: unknown): boolean =>
  ["commit_rejected", "actor_failed", "unknown_actor_kind"].includes(String((error as { code?: unknown })?.code));

/**
 * Tell the session actor; acknowledge the message only once the tell resolved, which the runtime
 * does after the actor committed (ack-after-persist). A failed tell (actor moving between
 * instances, database down) is retried, its message kept alive meanwhile. At most `concurrency`
 * tells run at once; the others queue here, each holding its unacknowledged message, so the
 * consumer's ack limit bounds the queue.
 */
export function tellSessions(
  tell: (change: ConnectivityChange) => ObservableInput<unknown>,
  options: TellOptions,
  count: CountOutcome,
): MonoTypeOperatorFunction<ConnectivityChange> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<ConnectivityChange>((subscriber) => {
      const queue: ConnectivityChange[] = [];
      let head = 0;
      let active = 0;
      let done = false;
      // A Set, not a parent Subscription: removing one of a thousand children must not scan them all.
      const live = new Set<{ unsubscribe(): void }>();
      const giveUp = (change: ConnectivityChange, error: unknown, attempts: number) => {
        change.settle.reject(`the session actor refused it ${attempts} times: ${(error as Error)?.message ?? String(error)}`, {
          park_id: change.park_id,
          driver_id: change.driver_id,
          connected: change.connected,
          at: new Date(change.at).toISOString(),
        });
        active--;
        pump();
      };
      const attempt = (change: ConnectivityChange, failures: number) => {
        let inner: Subscription | undefined;
        let finished = false;
        const end = () => {
          finished = true;
          if (inner) live.delete(inner);
        };
        inner = from(tell(change)).subscribe({
          error: (error: unknown) => {
            end();
            if (isPoison(error) && failures + 1 >= (options.maxPoisonAttempts ?? 5)) return giveUp(change, error, failures + 1);
            change.settle.working();
            const delay = Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** failures);
            const retry = scheduler.schedule(() => {
              live.delete(retry);
              attempt(change, failures + 1);
            }, delay);
            live.add(retry);
          },
          complete: () => {
            end();
            change.settle.ack();
            count("told");
            active--;
            subscriber.next(change);
            pump();
          },
        });
        if (!finished) live.add(inner);
      };
      const pump = () => {
        while (active < options.concurrency && head < queue.length) {
          active++;
          attempt(queue[head++]!, 0);
        }
        if (head > 1024 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        if (done && active === 0 && head === queue.length) subscriber.complete();
      };
      const upstream = source.subscribe({
        next: (change) => {
          queue.push(change);
          pump();
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          done = true;
          pump();
        },
      });
      return () => {
        upstream.unsubscribe();
        for (const l of live) l.unsubscribe();
        live.clear();
      };
    });
}
