// keepInRegion: the status stream's region filter (SPEC 3.2), positions from trackstory looked up
// in batches that grow with the load (and gather for a few ms), at most a few lookups at once. A
// driver found inside may be trusted to stay there for a short while (no lookup per status); one
// found outside is always looked up again, so a driver entering the region is heard at once.
// The filter decides who gets connected, never who gets disconnected: a disconnect needs no
// position, and a driver found outside (or with no position) goes on as a disconnect.
import { asyncScheduler, from, Observable, type Subscription, type MonoTypeOperatorFunction, type ObservableInput, type SchedulerLike } from "rxjs";
import { regionOf } from "../../integrations/trackstory/index.ts";
import { DriverMemory, type LicencedStatus } from "./statusMessages.ts";
import { isDisconnect, markOutOfScope } from "./statusOperators.ts";

/** Positions by `park_id/driver_id` (a promise, or an observable in virtual-time tests). */
export type PositionLookup = (drivers: readonly { park_id: string; driver_id: string }[]) => ObservableInput<Map<string, { lat: number; lon: number }>>;

export interface RegionOptions {
  readonly regions: readonly string[];
  /** At most this many statuses per lookup. */
  readonly batchSize: number;
  /** Lookups in flight at once; statuses arriving meanwhile form the next batch. */
  readonly concurrency: number;
  /**
   * With a lookup slot free, wait this long for more statuses before asking (absent or 0: ask at
   * once). Statuses arrive one by one, so without it a quiet slot sends a lookup per driver.
   */
  readonly gatherMs?: number;
  /** While trackstory is down, the batch is retried after this (doubling, capped) instead of dropped. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /**
   * A driver found inside passes without a lookup for this long (absent or 0: every status is
   * looked up). A driver leaving the region is disconnected at most this late.
   */
  readonly insideTtlMs?: number;
  /** Drivers remembered as inside, at most. */
  readonly memoryCapacity?: number;
  readonly scheduler?: SchedulerLike;
}

/**
 * Connect only drivers whose position (trackstory) is in a configured region: the online or busy
 * of a driver outside, or without a position, goes on as a disconnect. A lookup starts when a
 * slot is free, with every status that arrived since (up to `batchSize`): batches grow with the
 * load; a slot that was idle first gathers for `gatherMs`. Results leave in arrival order. While
 * trackstory is down a batch is retried (its messages stay unacknowledged, kept alive with
 * `working`), so the stream slows rather than forgets.
 */
export function keepInRegion(positions: PositionLookup, options: RegionOptions): MonoTypeOperatorFunction<LicencedStatus> {
  const regions = new Set(options.regions);
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<LicencedStatus>((subscriber) => {
      const waiting: LicencedStatus[] = [];
      const ttl = options.insideTtlMs ?? 0;
      const insideUntil = new DriverMemory<number>(options.memoryCapacity ?? 1_000_000);
      /** Batches in arrival order; each gets its statuses, judged, once its lookup answered. */
      const batches: { judged: LicencedStatus[] | undefined }[] = [];
      let active = 0;
      let done = false;
      const live = new Set<{ unsubscribe(): void }>();

      const flush = () => {
        while (batches.length > 0 && batches[0]!.judged) for (const s of batches.shift()!.judged!) subscriber.next(s);
        if (done && active === 0 && waiting.length === 0 && batches.length === 0) subscriber.complete();
      };
      const lookup = (batch: LicencedStatus[], slot: { judged: LicencedStatus[] | undefined }, failures: number) => {
        let finished = false;
        let inner: Subscription | undefined;
        const end = () => {
          finished = true;
          if (inner) live.delete(inner);
        };
        // A disconnect needs no position; a batch of disconnects only keeps its place in the order.
        const asked = batch.filter((s) => !isDisconnect(s));
        inner = from(asked.length > 0 ? positions(asked) : [new Map()]).subscribe({
          next: (found) => {
            const until = scheduler.now() + ttl;
            slot.judged = batch.map((s) => {
              if (isDisconnect(s)) return s;
              const p = found.get(s.driver);
              const region = p && regionOf(p.lat, p.lon);
              if (region === undefined || !regions.has(region)) return markOutOfScope(s, "region_filtered");
              if (ttl > 0) insideUntil.set(s.driver, until);
              return s;
            });
          },
          error: () => {
            end();
            for (const s of batch) s.settle.working();
            const retry = scheduler.schedule(
              () => {
                live.delete(retry);
                lookup(batch, slot, failures + 1);
              },
              Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** failures),
            );
            live.add(retry);
          },
          complete: () => {
            end();
            slot.judged ??= [];
            active--;
            flush();
            start();
          },
        });
        if (!finished) live.add(inner);
      };
      let gathering: Subscription | undefined;
      const startSoon = () => {
        if (!options.gatherMs || waiting.length >= options.batchSize) return start();
        if (gathering) return;
        gathering = scheduler.schedule(() => {
          live.delete(gathering!);
          gathering = undefined;
          start();
        }, options.gatherMs);
        live.add(gathering);
      };
      const start = () => {
        while (active < options.concurrency && waiting.length > 0) {
          const batch = waiting.splice(0, options.batchSize);
          const slot = { judged: undefined };
          batches.push(slot);
          active++;
          lookup(batch, slot, 0);
        }
      };
      const upstream = source.subscribe({
        next: (s) => {
          // Passing ahead of earlier statuses still in a lookup is safe: order is by updated_at downstream.
          if (ttl > 0 && (insideUntil.get(s.driver) ?? 0) > scheduler.now()) return subscriber.next(s);
          // A disconnect passes at once unless statuses are ahead of it: overtaking its driver's
          // earlier statuses, it would be taken for a repeat and they for stale (flips inside a
          // coalescing window would then be sent with the time of the first, not of the latest).
          if (isDisconnect(s) && waiting.length === 0 && batches.length === 0) return subscriber.next(s);
          waiting.push(s);
          startSoon();
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          done = true;
          flush();
        },
      });
      return () => {
        upstream.unsubscribe();
        for (const l of live) l.unsubscribe();
        live.clear();
      };
    });
}
