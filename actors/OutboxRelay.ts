// Delivers committed outbox messages: at once after the commit, and by a sweep for whatever a
// crash or an outage left behind. At least once; receivers drop repeats by message id.
import type { Sql } from "../storage/database.ts";
import { claimOutbox, deleteOutbox, type OutboxMessage } from "../storage/actorStore.ts";
import type { Logger } from "./logger.ts";

export type DeliverMessage = (message: OutboxMessage) => Promise<void>;

export class OutboxRelay {
  #loop: NodeJS.Timeout | undefined;
  #delivered: string[] = [];
  #flushScheduled = false;
  /** The delete statement running, if any: one at a time, so what is delivered meanwhile goes in the next one, however busy. */
  #deleting: Promise<void> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly deliver: DeliverMessage,
    private readonly logger: Logger,
    private readonly options: { sweepAfterMs: number; leaseMs: number } = { sweepAfterMs: 5_000, leaseMs: 30_000 },
  ) {}

  start(sweepEveryMs: number): void {
    const tick = () => void this.sweep().finally(() => (this.#loop = setTimeout(tick, sweepEveryMs)));
    this.#loop = setTimeout(tick, 0);
  }

  stop(): void {
    clearTimeout(this.#loop);
    this.#loop = undefined;
  }

  /** Right after a commit. A failure here is fine: the sweep delivers it later. */
  dispatch(messages: readonly OutboxMessage[]): void {
    for (const m of messages) void this.#deliverOne(m);
  }

  /** Delivers messages that have waited longer than `sweepAfterMs`; returns how many. */
  async sweep(olderThanMs = this.options.sweepAfterMs): Promise<number> {
    try {
      const claimed = await claimOutbox(this.sql, olderThanMs, this.options.leaseMs, 500);
      await Promise.all(claimed.map((m) => this.#deliverOne(m)));
      await this.#flushDeleted();
      return claimed.length;
    } catch (error) {
      this.logger.warn("outbox sweep failed", { error: String(error) });
      return 0;
    }
  }

  async #deliverOne(message: OutboxMessage): Promise<void> {
    try {
      await this.deliver(message);
    } catch (error) {
      this.logger.warn("outbox delivery failed; the sweep retries", { target: message.target, error: String(error) });
      return;
    }
    this.#delivered.push(message.messageId);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#deleting) return;
    this.#flushScheduled = true;
    setImmediate(() => void this.#flushDeleted());
  }

  async #flushDeleted(): Promise<void> {
    this.#flushScheduled = false;
    while (this.#deleting) await this.#deleting;
    const ids = this.#delivered;
    if (ids.length === 0) return;
    this.#delivered = [];
    this.#deleting = deleteOutbox(this.sql, ids).catch((error) => {
      this.logger.warn("outbox cleanup failed; messages may be delivered again", { error: String(error) });
    });
    await this.#deleting;
    this.#deleting = undefined;
    if (this.#delivered.length) this.#scheduleFlush();
  }
}
