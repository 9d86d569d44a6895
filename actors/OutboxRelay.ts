// Delivers committed outbox messages: at once after the commit, and by a sweep for whatever a
// crash or an outage left behind. At least once; receivers drop repeats by message id.
import type { Sql } from "../storage/database.ts";
import { claimOutbox, deleteOutbox, type OutboxMessage } from "../storage/actorStore.ts";
import type { Logger } from "./logger.ts";

export type DeliverMessage = (message: OutboxMessage) => Promise<void>;

/**
 * Delivered messages wait this long for others to share their delete: at low rates each commit
 * dispatches a message or two, and a statement per commit cost more than the commit's share of its
 * own batch. A crash meanwhile only makes the sweep deliver them again (receivers drop repeats).
 */
const DELETE_GATHER_MS = 200;

export class OutboxRelay {
  #loop: NodeJS.Timeout | undefined;
  #delivered: string[] = [];
  #flush: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The delete statement running, if any: one at a time, so what is delivered meanwhile goes in the next one, however busy. */
  #deleting: Promise<void> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly deliver: DeliverMessage,
    private readonly logger: Logger,
    private readonly options: { sweepAfterMs: number; leaseMs: number } = { sweepAfterMs: 5_000, leaseMs: 30_000 },
  ) {}

  start(sweepEveryMs: number): void {
    this.#stopped = false;
    const tick = () => void this.sweep().finally(() => (this.#loop = setTimeout(tick, sweepEveryMs)));
    this.#loop = setTimeout(tick, 0);
  }

  /** Deletes what is delivered from now on without waiting: the database may close soon after. */
  stop(): void {
    clearTimeout(this.#loop);
    this.#loop = undefined;
    this.#stopped = true;
    if (this.#flush) void this.#flushDeleted();
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
    if (this.#flush || this.#deleting) return;
    this.#flush = setTimeout(() => void this.#flushDeleted(), this.#stopped ? 0 : DELETE_GATHER_MS);
  }

  async #flushDeleted(): Promise<void> {
    clearTimeout(this.#flush);
    this.#flush = undefined;
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
