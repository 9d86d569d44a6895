// coalesce(window, maxDelay): per key, hold the latest value and let it go once the key has been
// quiet for `windowMs` (a debounce), or `maxDelayMs` after the first held value at the latest, so
// a key that never pauses is still heard. Constant work per value: deadlines of both kinds arrive
// in time order, so two FIFO queues hold them and one scheduled action waits for the earliest.
// With `maxHeld`, a new key beyond that many held releases the key held longest at once.
import { asyncScheduler, Observable, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from "rxjs";

export interface CoalesceOptions<T> {
  readonly windowMs: number;
  readonly maxDelayMs: number;
  readonly keyOf: (value: T) => string;
  /**
   * Deadlines are rounded up to a multiple of this (0: exact), so values due within one such
   * slice leave together: a few wake-ups per second instead of one per value under load.
   */
  readonly resolutionMs?: number;
  /**
   * At most this many keys held at once; a new key beyond it releases the key held longest, now.
   * Each held value keeps its message unacknowledged: without a cap, a backlog (statuses of the
   * same drivers arriving close together, so windows stretch to the maximum delay) would spend the
   * consumer's whole ack limit on waiting, and the stream would slow down just when it is behind.
   */
  readonly maxHeld?: number;
  /** A held value replaced by a newer one of its key (e.g. to acknowledge its message). */
  readonly onSuperseded?: (value: T) => void;
  readonly scheduler?: SchedulerLike;
}

interface Held<T> {
  value: T;
  /** Renewed by every newer value (unique across holdings); a queued quiet-deadline of another version is stale. */
  version: number;
  /** Identifies this holding (from first value to release); a queued max-deadline of another is stale. */
  holding: number;
}

interface Deadline {
  key: string;
  due: number;
  /** `version` for quiet deadlines, `holding` for max deadlines. */
  mark: number;
}

/** A FIFO of deadlines pushed in time order, read from the head. */
class DeadlineQueue {
  #items: Deadline[] = [];
  #head = 0;
  push(d: Deadline): void {
    this.#items.push(d);
  }
  peek(): Deadline | undefined {
    return this.#items[this.#head];
  }
  shift(): void {
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * @example changes.pipe(coalesce({ windowMs: 1000, maxDelayMs: 5000, keyOf: (c) => c.driver }))
 */
export function coalesce<T>(options: CoalesceOptions<T>): MonoTypeOperatorFunction<T> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const resolution = options.resolutionMs ?? 0;
  const slice = (due: number) => (resolution > 0 ? Math.ceil(due / resolution) * resolution : due);
  return (source) =>
    new Observable<T>((subscriber) => {
      const held = new Map<string, Held<T>>();
      const quiet = new DeadlineQueue();
      const longest = new DeadlineQueue();
      let holdings = 0;
      let versions = 0;
      const maxHeld = options.maxHeld ?? Number.POSITIVE_INFINITY;
      let wake: Subscription | undefined;
      let wakeAt = Number.POSITIVE_INFINITY;

      const release = () => {
        const now = scheduler.now();
        for (;;) {
          const q = quiet.peek();
          const l = longest.peek();
          const next =
            q && (!l || q.due <= l.due) ? { d: q, queue: quiet, kind: "quiet" as const } : l ? { d: l, queue: longest, kind: "longest" as const } : undefined;
          if (!next || next.d.due > now) break;
          next.queue.shift();
          const h = held.get(next.d.key);
          if (!h || (next.kind === "quiet" ? h.version : h.holding) !== next.d.mark) continue;
          held.delete(next.d.key);
          subscriber.next(h.value);
        }
        arm();
      };

      /** Releases the key held longest (the head of the max-delay queue that is still current). */
      const releaseOldest = () => {
        for (let l = longest.peek(); l; l = longest.peek()) {
          longest.shift();
          const h = held.get(l.key);
          if (!h || h.holding !== l.mark) continue;
          held.delete(l.key);
          subscriber.next(h.value);
          return;
        }
      };

      const arm = () => {
        const due = slice(Math.min(quiet.peek()?.due ?? Number.POSITIVE_INFINITY, longest.peek()?.due ?? Number.POSITIVE_INFINITY));
        if (due === Number.POSITIVE_INFINITY || due >= wakeAt) return;
        wake?.unsubscribe();
        wakeAt = due;
        wake = scheduler.schedule(
          () => {
            wake = undefined;
            wakeAt = Number.POSITIVE_INFINITY;
            release();
          },
          Math.max(0, due - scheduler.now()),
        );
      };

      const subscription = source.subscribe({
        next: (value) => {
          const key = options.keyOf(value);
          const now = scheduler.now();
          const current = held.get(key);
          if (current) {
            options.onSuperseded?.(current.value);
            current.value = value;
            current.version = ++versions;
            quiet.push({ key, due: now + options.windowMs, mark: current.version });
          } else {
            if (held.size >= maxHeld) releaseOldest();
            const holding = ++holdings;
            const version = ++versions;
            held.set(key, { value, version, holding });
            quiet.push({ key, due: now + options.windowMs, mark: version });
            longest.push({ key, due: now + options.maxDelayMs, mark: holding });
          }
          arm();
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          // The source ended: nothing newer can come, so what is held goes now.
          for (const h of held.values()) subscriber.next(h.value);
          held.clear();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        wake?.unsubscribe();
      };
    });
}
