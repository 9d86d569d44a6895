// A token bucket that makes callers wait their turn, in arrival order: the per-instance cap on
// calls to a partner that limits its clients (KRT). The queue is bounded in length and in wait:
// a call that would not get its turn in time is refused at once, not after waiting in vain.
import { PartnerBusyError } from "./errors.ts";

export interface RateLimiterOptions {
  /** The partner, named in the refusal's code (`<system>_busy`). */
  readonly system: string;
  /** How many calls may go at once after a quiet spell; default a tenth of a second's worth. */
  readonly burst?: number;
  /** Callers that may wait at once; the next one is refused. Default: unbounded. */
  readonly maxQueue?: number;
  /** A caller whose turn would come later than this is refused. Default: unbounded. */
  readonly maxWaitMs?: number;
}

/**
 * @example const limiter = new RateLimiter(200, { system: "krt", maxQueue: 1000, maxWaitMs: 5000 }); await limiter.take(); await krt.call()
 */
export class RateLimiter {
  readonly burst: number;
  #tokens: number;
  #last = performance.now();
  /** FIFO of waiting callers; `#head` advances instead of shifting a long array. */
  #waiters: (() => void)[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly perSecond: number,
    private readonly options: RateLimiterOptions,
  ) {
    if (!(perSecond > 0)) throw new Error("rate must be positive");
    this.burst = options.burst ?? Math.max(1, Math.ceil(perSecond / 10));
    this.#tokens = this.burst;
  }

  /** Callers waiting for their turn. */
  get waiting(): number {
    return this.#waiters.length - this.#head;
  }

  /** Resolves when the caller may make one call; rejects with PartnerBusyError when the queue is full or too slow. */
  take(): Promise<void> {
    this.#refill();
    if (this.waiting === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    const { system, maxQueue = Number.POSITIVE_INFINITY, maxWaitMs = Number.POSITIVE_INFINITY } = this.options;
    if (this.waiting >= maxQueue) return Promise.reject(new PartnerBusyError(system, `${maxQueue} ${system} calls already wait for the rate limit`));
    // FIFO at a fixed rate: this caller goes once the tokens for everyone ahead and for itself have accrued.
    const turnInMs = ((this.waiting + 1 - this.#tokens) * 1000) / this.perSecond;
    if (turnInMs > maxWaitMs) return Promise.reject(new PartnerBusyError(system, `a ${system} call would wait over ${maxWaitMs} ms for the rate limit`));
    return new Promise<void>((resolve) => {
      this.#waiters.push(resolve);
      this.#schedule();
    });
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.perSecond) / 1000);
    this.#last = now;
  }

  #schedule(): void {
    if (this.#timer) return;
    const waitMs = Math.max(1, ((1 - this.#tokens) * 1000) / this.perSecond);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      while (this.waiting > 0 && this.#tokens >= 1) {
        this.#tokens -= 1;
        this.#waiters[this.#head++]!();
      }
      if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
        this.#waiters = this.#waiters.slice(this.#head);
        this.#head = 0;
      }
      if (this.waiting > 0) this.#schedule();
    }, waitMs);
  }
}
