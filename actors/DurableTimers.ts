// Durable timers: due rows in actor_timers are delivered to their actors as tells; the actor's
// commit of that turn deletes the row, so a timer fires once per due time, across restarts.
import type { Sql } from "../storage/database.ts";
import { dueTimers, type DueTimer } from "../storage/actorStore.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";

export type DeliverTimer = (timer: DueTimer) => Promise<void>;

export class DurableTimers {
  readonly #inFlight = new Set<string>();
  #loop: NodeJS.Timeout | undefined;
  #polling: Promise<number> | undefined;
  #unsubscribe: () => void = () => {};

  constructor(
    private readonly sql: Sql,
    private readonly clock: Clock,
    /** In a cluster each instance fires the timers of the actors it hosts. */
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

  stop(): void {
    clearTimeout(this.#loop);
    this.#loop = undefined;
    this.#unsubscribe();
  }

  /** Delivers every timer due now; resolves with how many were sent (after their commits). */
  poll(): Promise<number> {
    this.#polling ??= this.#pollOnce().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #pollOnce(): Promise<number> {
    let due: DueTimer[];
    try {
      due = await dueTimers(this.sql, this.clock.now(), 500);
    } catch (error) {
      this.logger.warn("durable timer poll failed", { error: String(error) });
      return 0;
    }
    const fresh = due.filter((t) => this.mine(t) && !this.#inFlight.has(timerMessageId(t)));
    await Promise.all(
      fresh.map(async (timer) => {
        const id = timerMessageId(timer);
        this.#inFlight.add(id);
        try {
          await this.deliver(timer);
        } catch (error) {
          this.logger.warn("durable timer delivery failed; it stays due", { actor: `${timer.type}/${timer.id}`, timer: timer.key, error: String(error) });
        } finally {
          this.#inFlight.delete(id);
        }
      }),
    );
    return fresh.length;
  }
}

/** Stable per due time, so a redelivered firing is dropped by the actor. */
export const timerMessageId = (t: { type: string; id: string; key: string; dueAt: number }) =>
  `timer:${t.type}/${t.id}:${t.key}:${t.dueAt}`;
