// keepInRegion: the status stream's region filter (SPEC 3.2), positions from trackstory looked up
// in batches that grow with the load (and gather for a few ms), at most a few lookups at once. A
// driver found inside may be trusted to stay there for a short while (no lookup per status); one
// found outside is always looked up again, so a driver entering the region is heard at once.
import { asyncScheduler, from, Observable, type Subscription, type MonoTypeOperatorFunction, type ObservableInput, type SchedulerLike } from "rxjs";
import { regionOf } from "../../integrations/trackstory/index.ts";
import { DriverMemory, type CountOutcome, type LicencedStatus } from "./statusMessages.ts";

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
   * looked up). A driver leaving the region is filtered out at most this late.
   */
  readonly insideTtlMs?: number;
  /** Drivers remembered as inside, at most. */
  readonly memoryCapacity?: number;
  readonly scheduler?: SchedulerLike;
}

/**
 * Keep only drivers whose position (trackstory) is in a configured region. A lookup starts when
 * a slot is free, with every status that arrived since (up to `batchSize`): batches grow with the
 * load; a slot that was idle first gathers for `gatherMs`. Results leave in arrival order. While
 * trackstory is down a batch is retried (its messages stay unacknowledged, kept alive with
 * `working`), so the stream slows rather than forgets.
 */
export function keepInRegion(positions: PositionLookup, options: RegionOptions, count: CountOutcome): MonoTypeOperatorFunction<LicencedStatus> {
  const regions = new Set(options.regions);
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<LicencedStatus>((subscriber) => {
      const waiting: LicencedStatus[] = [];
      const ttl = options.insideTtlMs ?? 0;
      const insideUntil = new DriverMemory<number>(options.memoryCapacity ?? 1_000_000);
      /** Batches in arrival order; each gets its kept statuses once its lookup answered. */
      const batches: { kept: LicencedStatus[] | undefined }[] = [];
      let active = 0;
      let done = false;
      const live = new Set<{ unsubscribe(): void }>();

      const flush = () => {
        while (batches.length > 0 && batches[0]!.kept) for (const s of batches.shift()!.kept!) subscriber.next(s);
        if (done && active === 0 && waiting.length === 0 && batches.length === 0) subscriber.complete();
      };
      const lookup = (batch: LicencedStatus[], slot: { kept: LicencedStatus[] | undefined }, failures: number) => {
        let finished = false;
        let inner: Subscription | undefined;
        const end = () => {
          finished = true;
          if (inner) live.delete(inner);
        };
        inner = from(positions(batch)).subscribe({
          next: (found) => {
            const until = scheduler.now() + ttl;
            slot.kept = batch.filter((s) => {
              const p = found.get(s.driver);
              const region = p && regionOf(p.lat, p.lon);
              if (region !== undefined && regions.has(region)) {
                if (ttl > 0) insideUntil.set(s.driver, until);
                return true;
              }
              s.settle.ack();
              count("region_filtered");
              return false;
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
            slot.kept ??= [];
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
          const slot = { kept: undefined };
          batches.push(slot);
          active++;
          lookup(batch, slot, 0);
        }
      };
      const upstream = source.subscribe({
        next: (s) => {
          // Passing ahead of earlier statuses still in a lookup is safe: order is by updated_at downstream.
          if (ttl > 0 && (insideUntil.get(s.driver) ?? 0) > scheduler.now()) return subscriber.next(s);
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
