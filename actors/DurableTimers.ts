// Durable timers: due rows in actor_timers are delivered to their actors as tells; the actor's
// commit of that turn deletes the row, so a timer fires once per due time, across restarts.
import type { Sql } from "../storage/database.ts";
import { dueTimers, type DueTimer } from "../storage/actorStore.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";

/** Delivers one due timer; `signal` aborts once the timers stop (the attempt under way may fail then: the timer stays due). */
export type DeliverTimer = (timer: DueTimer, signal: AbortSignal) => Promise<void>;

export class DurableTimers {
  readonly #inFlight = new Set<string>();
  #loop: NodeJS.Timeout | undefined;
  #polling: Promise<number> | undefined;
  #unsubscribe: () => void = () => {};
  readonly #stopping = new AbortController();

  constructor(
    private readonly sql: Sql,
    private readonly clock: Clock,
    /**
     * In a cluster each instance fires the timers of the actors it hosts: it reads the timers of
     * the shards it owns (undefined: all, embedded), and keeps those still its own.
     */
    private readonly shards: () => readonly number[] | undefined,
    private readonly mine: (timer: DueTimer) => boolean,
    private readonly deliver: DeliverTimer,
    private readonly logger: Logger,
  ) {}

  start(pollMs: number): void {
    const tick = () => {
      void this.poll().finally(() => (this.#loop = setTimeout(tick, pollMs)));
    };
    this.#loop = setTimeout(tick, pollMs);
    this.#unsubscribe = this.clock.onAdvance(() => void this.poll());
  }

  /**
   * No more polls; deliveries under way make no further attempt (the host they go to is likely
   * stopping too). What they did not deliver stays due, for the next start or the shard's next owner.
   */
  stop(): void {
    clearTimeout(this.#loop);
    this.#loop = undefined;
    this.#unsubscribe();
    this.#stopping.abort();
  }

  /**
   * Delivers every timer due now, page after page while pages come full (a backlog, e.g. the
   * retries of every session after a partner outage, drains at once, not a page per poll);
   * resolves with how many were sent (after their commits).
   */
  poll(): Promise<number> {
    this.#polling ??= this.#drain().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #drain(): Promise<number> {
    let sent = 0;
    for (;;) {
      const page = await this.#pollOnce();
      sent += page.sent;
      // A full page of which nothing was delivered (other instances' timers, or failures) waits for the next poll.
      if (!page.full || page.sent === 0 || this.#stopping.signal.aborted) return sent;
    }
  }

  async #pollOnce(): Promise<{ sent: number; full: boolean }> {
    let due: DueTimer[];
    try {
      due = await dueTimers(this.sql, this.clock.now(), PAGE, this.shards());
    } catch (error) {
      this.logger.warn("durable timer poll failed", { error: String(error) });
      return { sent: 0, full: false };
    }
    const fresh = due.filter((t) => this.mine(t) && !this.#inFlight.has(timerMessageId(t)));
    let sent = 0;
    let cutByStop = 0;
    const { signal } = this.#stopping;
    await Promise.all(
      fresh.map(async (timer) => {
        const id = timerMessageId(timer);
        this.#inFlight.add(id);
        try {
          await this.deliver(timer, signal);
          sent++;
        } catch (error) {
          if (signal.aborted) cutByStop++;
          else this.logger.warn("durable timer delivery failed; it stays due", { actor: `${timer.type}/${timer.id}`, timer: timer.key, error: String(error) });
        } finally {
          this.#inFlight.delete(id);
        }
      }),
    );
    if (cutByStop > 0) this.logger.info("durable timers cut off by the stop stay due", { timers: cutByStop });
    return { sent, full: due.length === PAGE };
  }
}

/** Due timers read per query. */
const PAGE = 500;

/** Stable per due time, so a redelivered firing is dropped by the actor. */
export const timerMessageId = (t: { type: string; id: string; key: string; dueAt: number }) => `timer:${t.type}/${t.id}:${t.key}:${t.dueAt}`;
