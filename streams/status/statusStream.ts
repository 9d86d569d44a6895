// The status stream (SPEC 3.2): driver statuses from JetStream into krt-session actors.
//   [decode: the ingest, see statusSource and statusIngest] -> resolve licence -> category filter ->
//   region filter -> connectivity -> drop stale -> drop repeats -> coalesce(debounce, max delay)
//   -> drop unchanged -> tell the session actor -> ack
// The filters decide who gets connected, never who gets disconnected: an offline passes them, and
// a driver out of scope goes on as a disconnect; the repeat filters (one instance) or the session
// actor (a cluster) drop it when he is not connected.
// Backpressure: every value in the pipeline holds an unacknowledged message, so the consumer's
// `max_ack_pending` bounds what is in flight; when actors or Postgres fall behind, JetStream
// stops delivering instead of the pipeline buffering.
import { identity, type Observable, type SchedulerLike } from "rxjs";
import { coalesce } from "./coalesce.ts";
import type { DriverKey } from "../../integrations/driverKey.ts";
import type { ConnectivityChange, CountOutcome, DriverStatus } from "./statusMessages.ts";
import { dropRepeats, dropStale, keepCategories, resolveLicences, toConnectivity, type LicenceLookup } from "./statusOperators.ts";
import { keepInRegion, type PositionLookup } from "./keepInRegion.ts";
import { tellSessions } from "./tellSessions.ts";

export interface StatusStreamSources {
  /** Decoded statuses, each holding its unacknowledged message (malformed ones were dead-lettered). */
  readonly statuses: Observable<DriverStatus>;
  readonly profiles: LicenceLookup;
  categoriesOf(driver: DriverKey): readonly string[];
  readonly positions: PositionLookup;
  /** Tells `krt-session/<licence>`; resolves once the actor committed. */
  tell(change: ConnectivityChange): Promise<void>;
}

export interface StatusStreamOptions {
  readonly categories: readonly string[];
  readonly regions: readonly string[];
  readonly debounceMs: number;
  readonly maxDelayMs: number;
  /**
   * Drivers held by the coalescing at most (see `coalesce`'s `maxHeld`); absent: no cap. Keep it
   * well below the consumer's `max_ack_pending`, which the filters and the tells share with it.
   */
  readonly coalesceMaxHeld?: number;
  /** Coalesced statuses leave in slices of this many ms (see `coalesce`); absent: exactly on time. */
  readonly releaseResolutionMs?: number;
  /** Off in a cluster: see `dropRepeats`. */
  readonly dropRepeats: boolean;
  readonly tellConcurrency: number;
  /** Trackstory lookups in flight at once, and statuses per lookup at most. */
  readonly lookupConcurrency: number;
  readonly lookupBatchSize: number;
  /** An idle lookup slot waits this long for more statuses (see `keepInRegion`); absent: asks at once. */
  readonly lookupGatherMs?: number;
  /** A driver found inside the region passes without a lookup for this long (0: always looked up). */
  readonly insideRegionTtlMs?: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Per-driver memory of the stale and repeat filters. */
  readonly memoryCapacity: number;
  readonly missRefreshMs: number;
  readonly count: CountOutcome;
  readonly now: () => number;
  readonly scheduler?: SchedulerLike;
}

/**
 * @example statusStream(sources, options).subscribe() // runs until unsubscribed
 */
export function statusStream(sources: StatusStreamSources, options: StatusStreamOptions): Observable<ConnectivityChange> {
  const { count, scheduler } = options;
  const retry = { retryBaseMs: options.retryBaseMs, retryMaxMs: options.retryMaxMs, ...(scheduler ? { scheduler } : {}) };
  // Two pipes: RxJS types a pipe of at most nine steps.
  const changes = sources.statuses.pipe(
    resolveLicences(sources.profiles, count, { missRefreshMs: options.missRefreshMs, now: options.now }),
    keepCategories((driver) => sources.categoriesOf(driver), options.categories),
    keepInRegion(sources.positions, {
      regions: options.regions,
      concurrency: options.lookupConcurrency,
      batchSize: options.lookupBatchSize,
      ...(options.lookupGatherMs ? { gatherMs: options.lookupGatherMs } : {}),
      insideTtlMs: options.insideRegionTtlMs ?? 0,
      memoryCapacity: options.memoryCapacity,
      ...retry,
    }),
    toConnectivity(),
  );
  return changes.pipe(
    dropStale(count, options.memoryCapacity),
    options.dropRepeats ? dropRepeats(count, options.memoryCapacity) : identity,
    coalesce<ConnectivityChange>({
      windowMs: options.debounceMs,
      maxDelayMs: options.maxDelayMs,
      ...(options.releaseResolutionMs ? { resolutionMs: options.releaseResolutionMs } : {}),
      ...(options.coalesceMaxHeld ? { maxHeld: options.coalesceMaxHeld } : {}),
      keyOf: (change) => change.driver,
      onSuperseded: (older) => {
        older.settle.ack(); // the newer status is held unacknowledged: a crash redelivers it
        count("superseded");
      },
      ...(scheduler ? { scheduler } : {}),
    }),
    // The window may end where it began (online, offline, online): nothing to tell then.
    options.dropRepeats ? dropRepeats(count, options.memoryCapacity, "unchanged") : identity,
    tellSessions((c) => sources.tell(c), { concurrency: options.tellConcurrency, ...retry }, count),
  );
}
