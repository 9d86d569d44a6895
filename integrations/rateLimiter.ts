// A token bucket that makes callers wait their turn, in arrival order: the per-instance cap on
// calls to a partner that limits its clients (KRT). Two kinds of wait share its tokens. A
// `bounded` caller (someone waits for the answer) goes first, in a queue bounded in length and in
// wait: a call that would not get its turn in time is refused at once, not after waiting in vain.
// A `patient` caller (background work that keeps only its latest call) waits behind them however
// long: refusing it would only make it come back. A patient caller facing a long wait may instead
// be promised a later turn (`promiseTurn`) and come back then, holding nothing while it waits.
import { PartnerBusyError } from "./errors.ts";

export interface RateLimiterOptions {
  /** The partner, named in the refusal's code (`<system>_busy`). */
  readonly system: string;
  /** How many calls may go at once after a quiet spell; default a tenth of a second's worth. */
  readonly burst?: number;
  /** Bounded callers that may wait at once; the next one is refused. Default: unbounded. */
  readonly maxQueue?: number;
  /** A bounded caller whose turn would come later than this is refused. Default: unbounded. */
  readonly maxWaitMs?: number;
}

/** `bounded`: first in line, refused beyond the queue's bounds; `patient`: behind them, never refused. */
export type RateWait = "bounded" | "patient";

/** A caller waiting its turn; `resolve` undefined once it gave up (its signal aborted). */
interface Waiter {
  resolve: (() => void) | undefined;
}

/** FIFO of waiting callers; `head` advances instead of shifting a long array, and those who gave up are skipped. */
class Waiters {
  #list: Waiter[] = [];
  #head = 0;
  #gaveUp = 0;

  get length(): number {
    return this.#list.length - this.#head - this.#gaveUp;
  }

  push(waiter: Waiter): void {
    this.#list.push(waiter);
  }

  /** The waiter leaves the queue without a turn. */
  giveUp(waiter: Waiter): void {
    waiter.resolve = undefined;
    this.#gaveUp++;
  }

  /** Lets the first caller still waiting go; only called while `length > 0`. */
  release(): void {
    for (;;) {
      const resolve = this.#list[this.#head++]!.resolve;
      if (resolve === undefined) {
        this.#gaveUp--;
        continue;
      }
      resolve();
      break;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#list.length) {
      this.#list = this.#list.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * @example const limiter = new RateLimiter(200, { system: "krt", maxQueue: 1000, maxWaitMs: 5000 }); await limiter.take("bounded"); await krt.call()
 */
export class RateLimiter {
  readonly burst: number;
  #tokens: number;
  #last = performance.now();
  readonly #bounded = new Waiters();
  readonly #patient = new Waiters();
  #timer: NodeJS.Timeout | undefined;
  /** When the next turn free of promises comes (performance.now() time); past: none ahead. */
  #promisedUntil = 0;
  /** The promised turns' times, in order; those past are dropped as `promised` is read. */
  #promises: number[] = [];
  #promisesHead = 0;

  constructor(
    readonly perSecond: number,
    private readonly options: RateLimiterOptions,
  ) {
    if (!(perSecond > 0)) throw new Error("rate must be positive");
    this.burst = options.burst ?? Math.max(1, Math.ceil(perSecond / 10));
    this.#tokens = this.burst;
  }

  /** Callers waiting for their turn, of both kinds. */
  get waiting(): number {
    return this.#bounded.length + this.#patient.length;
  }

  /** Turns promised to patient callers that have not come yet. */
  get promised(): number {
    this.#dropPastPromises();
    return this.#promises.length - this.#promisesHead;
  }

  #dropPastPromises(): void {
    const now = performance.now();
    while (this.#promisesHead < this.#promises.length && this.#promises[this.#promisesHead]! <= now) this.#promisesHead++;
    if (this.#promisesHead > 1024 && this.#promisesHead * 2 > this.#promises.length) {
      this.#promises = this.#promises.slice(this.#promisesHead);
      this.#promisesHead = 0;
    }
  }

  /**
   * How long a patient caller arriving now would wait: behind those waiting, the turns promised,
   * and `coming`, callers the asker knows are on their way to the queue.
   */
  patientWaitMs(coming = 0): number {
    this.#refill();
    const now = performance.now();
    const queued = Math.max(0, ((this.waiting + coming + 1 - this.#tokens) * 1000) / this.perSecond);
    return Math.max(queued, this.#promisedUntil - now);
  }

  /**
   * Promises a patient caller a turn: resolves nothing, returns in how many ms to come back and
   * `take` it. Turns are promised one per 1/perSecond, after the callers waiting and the turns
   * promised before, so those who come back on time find the queue short. A promise binds nobody:
   * a caller who never comes back leaves a turn unused; bounded callers still go first.
   */
  promiseTurn(coming = 0): number {
    const inMs = this.patientWaitMs(coming);
    const at = performance.now() + inMs;
    this.#promisedUntil = at + 1000 / this.perSecond;
    this.#dropPastPromises();
    this.#promises.push(at);
    return inMs;
  }

  /**
   * Resolves when the caller may make one call. A bounded caller is rejected with PartnerBusyError
   * when its queue is full or its turn too far; a patient one waits until every bounded caller
   * ahead of its turn went. A caller whose `signal` aborts leaves the queue at once, rejected with
   * the signal's reason, and takes no token: a call nobody waits for any more is never made.
   */
  take(wait: RateWait, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#refill();
    const ahead = wait === "bounded" ? this.#bounded.length : this.waiting;
    if (ahead === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    if (wait === "bounded") {
      const { system, maxQueue = Number.POSITIVE_INFINITY, maxWaitMs = Number.POSITIVE_INFINITY } = this.options;
      if (ahead >= maxQueue) return Promise.reject(new PartnerBusyError(system, `${maxQueue} ${system} calls already wait for the rate limit`));
      // Bounded callers go first, at a fixed rate: this one goes once the tokens for those ahead and for itself have accrued.
      const turnInMs = ((ahead + 1 - this.#tokens) * 1000) / this.perSecond;
      if (turnInMs > maxWaitMs) return Promise.reject(new PartnerBusyError(system, `a ${system} call would wait over ${maxWaitMs} ms for the rate limit`));
    }
    const queue = wait === "bounded" ? this.#bounded : this.#patient;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        queue.giveUp(waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
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
        (this.#bounded.length > 0 ? this.#bounded : this.#patient).release();
      }
      if (this.waiting > 0) this.#schedule();
    }, waitMs);
  }
}
