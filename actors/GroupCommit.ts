// Group commit: every commit submitted in the same tick lands in one transaction with one
// multi-row upsert, so throughput does not cost one round trip per event.
import type { Sql, Tx } from "../storage/database.ts";
import { writeCommits, type Commit } from "../storage/actorStore.ts";

interface Waiting {
  commit: Commit;
  resolve: (accepted: boolean) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions {
  maxBatch?: number;
  /** Runs in the same transaction after the snapshots, with the accepted commits only. */
  afterWrite?: (tx: Tx, accepted: readonly Commit[]) => Promise<void>;
  onBatch?: (size: number, ms: number) => void;
}

export class GroupCommit {
  #queue: Waiting[] = [];
  #draining = false;

  constructor(
    private readonly sql: Sql,
    private readonly options: GroupCommitOptions = {},
  ) {}

  /** Resolves `true` once committed, `false` if stale (version or epoch); rejects on database errors. */
  submit(commit: Commit): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ commit, resolve, reject });
      if (!this.#draining) {
        this.#draining = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    const maxBatch = this.options.maxBatch ?? 1000;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, maxBatch);
      const started = performance.now();
      try {
        const accepted = await this.sql.begin(async (tx) => {
          const ok = await writeCommits(tx, batch.map((w) => w.commit));
          const winners = batch.map((w) => w.commit).filter((c) => ok.has(`${c.type}/${c.id}`));
          if (winners.length && this.options.afterWrite) await this.options.afterWrite(tx, winners);
          return ok;
        });
        this.options.onBatch?.(batch.length, performance.now() - started);
        for (const w of batch) w.resolve(accepted.has(`${w.commit.type}/${w.commit.id}`));
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.#draining = false;
  }
}
