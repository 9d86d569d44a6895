// A token bucket that makes callers wait their turn, in arrival order: the per-instance cap on
// calls to a partner that limits its clients (KRT).

/**
 * @example const limiter = new RateLimiter(200); await limiter.take(); await krt.call()
 */
export class RateLimiter {
  #tokens: number;
  #last = performance.now();
  /** FIFO of waiting callers; `#head` advances instead of shifting a long array. */
  #waiters: (() => void)[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly perSecond: number,
    /** How many calls may go at once after a quiet spell; default a tenth of a second's worth. */
    readonly burst: number = Math.max(1, Math.ceil(perSecond / 10)),
  ) {
    if (!(perSecond > 0)) throw new Error("rate must be positive");
    this.#tokens = burst;
  }

  /** Callers waiting for their turn. */
  get waiting(): number {
    return this.#waiters.length - this.#head;
  }

  /** Resolves when the caller may make one call. */
  take(): Promise<void> {
    this.#refill();
    if (this.waiting === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
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
