// An in-memory copy of a partner's data kept in an @xstate/store: filled fully at start, then
// followed incrementally by cursor. When the partner is down the copy keeps serving; until the
// first full fill has completed the cache is not ready (an instance restarted while the partner
// is down stays out of rotation instead of filtering against an empty copy).
import { createStore } from "@xstate/store";
import type { Logger } from "../actors/logger.ts";
import type { UpdatesPage } from "./driverProfiles/client.ts";

export interface CacheSource<T> {
  updates(cursor: string | undefined, limit: number): Promise<UpdatesPage<T>>;
}

export interface IncrementalCacheOptions<T> {
  /** The partner's name, in logs and readiness: `driver_profiles`. */
  readonly name: string;
  readonly source: CacheSource<T>;
  readonly keyOf: (item: T) => string;
  /** A secondary key to look entries up by (e.g. the licence of a profile); undefined: not indexed. */
  readonly indexOf?: (item: T) => string | undefined;
  /** Items that mean "gone" (removed from the copy instead of stored). */
  readonly isRemoval?: (item: T) => boolean;
  /** Pause between incremental syncs, and between attempts while the partner is down. */
  readonly refreshMs: number;
  readonly pageSize?: number;
  readonly logger: Logger;
  readonly now: () => number;
}

interface CacheContext<T> {
  /**
   * Mutated in place by the store's own handlers (the single writer) and never handed out:
   * copying a million-entry map per page would make every sync O(size).
   */
  entries: Map<string, T>;
  index: Map<string, Set<string>>;
  cursor: string | undefined;
  /** A sync has reached the end of the partner's data at least once. */
  filled: boolean;
  syncedAt: number | null;
  /** When the last sync that reached the end began: every change made before then is in the copy. */
  syncedFrom: number | null;
  failures: number;
  lastError: string | null;
}

export interface IncrementalCache<T> {
  get(key: string): T | undefined;
  /** Keys of the entries whose secondary key is `indexKey`. */
  keysBy(indexKey: string): readonly string[];
  readonly size: number;
  /**
   * Every change the partner made before this time (epoch ms) is in the copy: when the last sync
   * that reached the end of the partner's data began; null before the first.
   */
  syncedFrom(): number | null;
  /** Readiness: throws until the first full fill has completed. */
  check(): Promise<void>;
  /** Resolves once the first full fill has completed. */
  ready(): Promise<void>;
  /**
   * Syncs now, seeing every change made before the call (a sync already running is followed by
   * one more, shared by everyone who asked meanwhile); resolves when it ends, successful or not.
   */
  refreshNow(): Promise<void>;
  start(): void;
  stop(): void;
}

/**
 * @example const cache = createIncrementalCache({ name: "driver_profiles", source, keyOf: (p) => `${p.park_id}/${p.driver_id}`, refreshMs: 5000, logger, now })
 *          cache.start(); await cache.ready(); cache.get("park-1/driver-1")
 */
export function createIncrementalCache<T>(options: IncrementalCacheOptions<T>): IncrementalCache<T> {
  const { keyOf, indexOf, isRemoval } = options;
  const store = createStore({
    context: {
      entries: new Map(),
      index: new Map(),
      cursor: undefined,
      filled: false,
      syncedAt: null,
      syncedFrom: null,
      failures: 0,
      lastError: null,
    } as CacheContext<T>,
    on: {
      pageLoaded: (ctx, event: { items: readonly T[]; cursor: string; complete: boolean; from: number; at: number }) => {
        for (const item of event.items) {
          const key = keyOf(item);
          unindex(ctx, key);
          if (isRemoval?.(item)) {
            ctx.entries.delete(key);
            continue;
          }
          ctx.entries.set(key, item);
          const indexKey = indexOf?.(item);
          if (indexKey !== undefined) {
            const keys = ctx.index.get(indexKey) ?? new Set<string>();
            keys.add(key);
            ctx.index.set(indexKey, keys);
          }
        }
        return {
          ...ctx,
          cursor: event.cursor,
          filled: ctx.filled || event.complete,
          syncedAt: event.complete ? event.at : ctx.syncedAt,
          syncedFrom: event.complete ? event.from : ctx.syncedFrom,
          failures: 0,
          lastError: null,
        };
      },
      syncFailed: (ctx, event: { error: string }) => ({ ...ctx, failures: ctx.failures + 1, lastError: event.error }),
    },
  });

  function unindex(ctx: CacheContext<T>, key: string): void {
    const previous = ctx.entries.get(key);
    const indexKey = previous === undefined ? undefined : indexOf?.(previous);
    if (indexKey === undefined) return;
    const keys = ctx.index.get(indexKey);
    keys?.delete(key);
    if (keys?.size === 0) ctx.index.delete(indexKey);
  }

  const context = () => store.getSnapshot().context;
  let syncing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  async function syncOnce(): Promise<void> {
    const from = options.now();
    try {
      for (;;) {
        const page = await options.source.updates(context().cursor, options.pageSize ?? 1000);
        store.trigger.pageLoaded({ items: page.items, cursor: page.cursor, complete: !page.hasMore, from, at: options.now() });
        if (!page.hasMore) return;
      }
    } catch (error) {
      // One warning per outage, not one per attempt.
      if (context().failures === 0) options.logger.warn("cache sync failed; serving the last copy", { cache: options.name, error: String(error) });
      store.trigger.syncFailed({ error: String(error) });
    }
  }

  const sync = () => (syncing ??= syncOnce().finally(() => (syncing = undefined)));
  let queued: Promise<void> | undefined;
  /**
   * A sync that starts after the call: a running one may have read its page before the caller's
   * change, so callers asking meanwhile share one more sync queued behind it.
   */
  const syncFromNow = (): Promise<void> => {
    if (!syncing) return sync();
    queued ??= syncing.then(() => {
      queued = undefined;
      return sync();
    });
    return queued;
  };

  function loop(): void {
    if (!running) return;
    void sync().finally(() => {
      if (running) timer = setTimeout(loop, options.refreshMs);
    });
  }

  return {
    get: (key) => context().entries.get(key),
    keysBy: (indexKey) => [...(context().index.get(indexKey) ?? [])],
    get size() {
      return context().entries.size;
    },
    syncedFrom: () => context().syncedFrom,
    check: async () => {
      const c = context();
      if (!c.filled) throw new Error(`${options.name} cache not filled yet${c.lastError ? `: ${c.lastError}` : ""}`);
    },
    ready: () =>
      new Promise<void>((resolve) => {
        if (context().filled) return resolve();
        const subscription = store.subscribe((snapshot) => {
          if (!snapshot.context.filled) return;
          subscription.unsubscribe();
          resolve();
        });
      }),
    refreshNow: syncFromNow,
    start: () => {
      if (running) return;
      running = true;
      loop();
    },
    stop: () => {
      running = false;
      clearTimeout(timer);
    },
  };
}
