// Group commit: every commit submitted in the same tick lands in one statement (a multi-row
// upsert plus its journal, outbox, timers and query projections), so throughput does not cost one
// round trip per event, nor a commit with projections more than one. Commits of kinds that allow
// it wait a little for company (at low rates a batch of one costs as many round trips as a batch
// of hundreds). Batches run side by side on the pool; one actor never has two commits in flight.
import { isPermanentWriteError, type Sql } from "../storage/database.ts";
import { prepareCommit, writePreparedCommits, type Commit, type PreparedCommit, type Projections } from "../storage/actorStore.ts";

interface Waiting {
  /** Serialised at submission (see `prepareCommit`). */
  prepared: PreparedCommit;
  /** `performance.now()` by which its batch must leave. */
  dueAt: number;
  resolve: (accepted: boolean) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions {
  /**
   * Commits in one statement at most (default 100). A batch's rows go as one jsonb parameter of
   * ~1 KB a row: past ~100 rows that string outgrows what V8 allocates young (128 KB), so it is
   * born in the old generation and freed only by a mark-compact. With 1,000 the status stream held
   * 14,250-15,630/s; with 100, 19,380-20,000, on less GC (bench/README.md, stop 35).
   */
  maxBatch?: number;
  /** Batches committing at once (each on its own pooled connection). */
  maxInFlight?: number;
  /** The query projections of a batch, written by its statement for the accepted commits only. */
  projections?: (commits: readonly Commit[]) => Projections;
  onBatch?: (size: number, ms: number) => void;
}

export class GroupCommit {
  #queue: Waiting[] = [];
  /** The earliest `dueAt` in the queue. */
  #dueAt = Number.POSITIVE_INFINITY;
  #inFlight = 0;
  /** The next batch's departure, when one is scheduled. */
  #wake: { at: number; cancel(): void } | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly options: GroupCommitOptions = {},
  ) {}

  /**
   * Resolves `true` once committed, `false` if stale (version or epoch); rejects on database errors.
   * `lingerMs`: how long the commit may wait for others to share its batch (0: the next tick).
   */
  submit(commit: Commit, lingerMs = 0): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const dueAt = performance.now() + lingerMs;
      this.#queue.push({ prepared: prepareCommit(commit), dueAt, resolve, reject });
      this.#dueAt = Math.min(this.#dueAt, dueAt);
      this.#schedule();
    });
  }

  get #maxBatch(): number {
    return this.options.maxBatch ?? 100;
  }

  /** Schedules the next batch for when its most urgent commit is due, or the next tick when it is full. */
  #schedule(): void {
    if (this.#queue.length === 0 || this.#inFlight >= (this.options.maxInFlight ?? 4)) return;
    const at = this.#queue.length >= this.#maxBatch ? Number.NEGATIVE_INFINITY : this.#dueAt;
    if (this.#wake && this.#wake.at <= at) return;
    this.#wake?.cancel();
    const go = () => {
      this.#wake = undefined;
      this.#start();
    };
    const delay = at - performance.now();
    if (delay > 0) {
      const timer = setTimeout(go, delay);
      this.#wake = { at, cancel: () => clearTimeout(timer) };
    } else {
      // One tick of gathering: everything submitted meanwhile joins this batch.
      const tick = setImmediate(go);
      this.#wake = { at, cancel: () => clearImmediate(tick) };
    }
  }

  #start(): void {
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#dueAt = this.#queue.reduce((min, w) => Math.min(min, w.dueAt), Number.POSITIVE_INFINITY);
    if (batch.length === 0) return;
    this.#inFlight++;
    void this.#write(batch).finally(() => {
      this.#inFlight--;
      this.#schedule();
    });
    this.#schedule();
  }

  async #write(batch: Waiting[]): Promise<void> {
    const prepared = batch.map((w) => w.prepared);
    const started = performance.now();
    try {
      const accepted = await writePreparedCommits(this.sql, prepared, this.options.projections?.(prepared.map((p) => p.commit)));
      this.options.onBatch?.(batch.length, performance.now() - started);
      for (const w of batch) w.resolve(accepted.has(`${w.prepared.commit.type}/${w.prepared.commit.id}`));
    } catch (error) {
      // One actor's bad row must not hold back the others of its batch: they are written one by
      // one, so only the commit Postgres refuses is rejected.
      if (batch.length > 1 && isPermanentWriteError(error)) await Promise.all(batch.map((w) => this.#write([w])));
      else for (const w of batch) w.reject(error);
    }
  }
}
