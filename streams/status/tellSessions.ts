// tellSessions: the status stream's last step (SPEC 3.2), telling each session actor and
// acknowledging the JetStream message once the actor committed.
import { asyncScheduler, from, Observable, type MonoTypeOperatorFunction, type ObservableInput, type SchedulerLike, type Subscription } from "rxjs";
import type { ConnectivityChange, CountOutcome } from "./statusMessages.ts";

export interface TellOptions {
  /** Tells in flight at once; beyond it, coalesced changes wait (unacknowledged, so bounded by the consumer's ack limit). */
  readonly concurrency: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly scheduler?: SchedulerLike;
}

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
      const attempt = (change: ConnectivityChange, failures: number) => {
        let inner: Subscription | undefined;
        let finished = false;
        const end = () => {
          finished = true;
          if (inner) live.delete(inner);
        };
        inner = from(tell(change)).subscribe({
          error: () => {
            end();
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
