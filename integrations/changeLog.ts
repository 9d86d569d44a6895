// What partner simulators use to serve incremental updates by cursor: a keyed log where every
// change gets the next revision, read back in revision order after a cursor.

/** One page of changes: at most `limit` entries changed after the cursor, oldest change first. */
export interface ChangePage<T> {
  readonly items: T[];
  /** Opaque; pass it back to get the changes after this page. */
  readonly cursor: string;
  readonly hasMore: boolean;
}

/**
 * @example const log = new ChangeLog<Profile>(); log.put("p1/d1", profile); log.after(undefined, 100)
 */
export class ChangeLog<T> {
  #revision = 0;
  readonly #current = new Map<string, { revision: number; value: T }>();
  /** Revisions in order; an entry whose key changed again later is skipped when read. */
  readonly #order: { revision: number; key: string }[] = [];

  put(key: string, value: T): void {
    const revision = ++this.#revision;
    this.#current.set(key, { revision, value });
    this.#order.push({ revision, key });
  }

  get(key: string): T | undefined {
    return this.#current.get(key)?.value;
  }

  get size(): number {
    return this.#current.size;
  }

  values(): IterableIterator<T> {
    return [...this.#current.values()].map((e) => e.value)[Symbol.iterator]();
  }

  /** Changes after `cursor` (absent: everything), latest value of each key, in change order. */
  after(cursor: string | undefined, limit: number): ChangePage<T> | undefined {
    const from = cursor === undefined || cursor === "" ? 0 : Number(cursor);
    if (!Number.isInteger(from) || from < 0 || from > this.#revision) return undefined;
    const items: T[] = [];
    let last = from;
    for (let i = this.#firstAfter(from); i < this.#order.length && items.length < limit; i++) {
      const { revision, key } = this.#order[i]!;
      last = revision;
      const entry = this.#current.get(key)!;
      if (entry.revision === revision) items.push(entry.value);
    }
    return { items, cursor: String(last), hasMore: last < this.#revision };
  }

  #firstAfter(revision: number): number {
    let lo = 0;
    let hi = this.#order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#order[mid]!.revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
