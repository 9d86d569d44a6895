// Cabinet polling (SPEC 3.1) as RxJS steps: which cabinets this instance polls, when each one is
// due (its own phase in the interval, then every interval with jitter, so thousands never fire at
// once; gathered by one shared tick), the polls themselves with bounded concurrency, and which outcomes are worth telling the
// cabinet actor (a miss always; a report when it changed, after a miss, or as a heartbeat).
import { asyncScheduler, catchError, defer, EMPTY, exhaustMap, filter, from, ignoreElements, map, merge, mergeMap, of, tap, timer } from "rxjs";
import type { MonoTypeOperatorFunction, Observable, SchedulerLike } from "rxjs";
import type { ReportedCell } from "../machines/cabinetCells.ts";

export interface ScheduleOptions {
  intervalMs: number;
  /** 0..1: each next poll comes `intervalMs × (1 ± jitter)` after the previous one. */
  jitter: number;
  scheduler?: SchedulerLike;
  random?: () => number;
  /** How often due cabinets are gathered; `tickOf(intervalMs)` by default. */
  tickMs?: number;
}

/** Where in the interval a cabinet is first polled: a hash of its id, so ids spread evenly and stay put across restarts. */
export function phaseOf(id: string, intervalMs: number): number {
  let h = 0x811c9dc5; // FNV-1a, then murmur3's finaliser: ids like CAB-1, CAB-2 must not cluster
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return Math.floor((h / 2 ** 32) * intervalMs);
}

/** The registered cabinets this instance hosts, re-read every `refreshMs` and whenever `refresh$` fires. */
export function hostedCabinets(
  list: () => Promise<readonly string[]>,
  hostsHere: (id: string) => boolean,
  options: { refreshMs: number; refresh$?: Observable<unknown>; scheduler?: SchedulerLike; onError?: (error: unknown) => void },
): Observable<readonly string[]> {
  return merge(timer(0, options.refreshMs, options.scheduler), options.refresh$ ?? EMPTY).pipe(
    exhaustMap(() =>
      defer(list).pipe(
        catchError((error) => {
          options.onError?.(error);
          return EMPTY; // keep polling what we had; the next refresh tries again
        }),
      ),
    ),
    map((ids) => ids.filter(hostsHere)),
  );
}

/** The shared tick's period by default: a fortieth of the interval, at most 250 ms. */
export const tickOf = (intervalMs: number): number => Math.max(1, Math.min(250, Math.floor(intervalMs / 40)));

/**
 * Cabinet ids as they fall due, for a changing set of cabinets: one that joins is due at its
 * phase, then every interval with jitter; one that leaves stops at once. One shared tick (every
 * `tickMs`, `tickOf(intervalMs)` by default) emits all the cabinets due by then, rather than a
 * timer per cabinet: 1,000 cabinets every 10 s wake the process 4 times a second, not 100, and
 * their commands leave together.
 */
export function spreadOverInterval(cabinets$: Observable<readonly string[]>, options: ScheduleOptions): Observable<string> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const random = options.random ?? Math.random;
  const next = () => Math.max(1, Math.round(options.intervalMs * (1 + options.jitter * (2 * random() - 1))));
  return defer(() => {
    const dueAt = new Map<string, number>();
    const joinAndLeave = cabinets$.pipe(
      tap((ids) => {
        const now = scheduler.now();
        const current = new Set(ids);
        for (const id of dueAt.keys()) if (!current.has(id)) dueAt.delete(id);
        for (const id of current) if (!dueAt.has(id)) dueAt.set(id, now + phaseOf(id, options.intervalMs));
      }),
      ignoreElements(),
    );
    const due = timer(0, options.tickMs ?? tickOf(options.intervalMs), scheduler).pipe(
      mergeMap(() => {
        const now = scheduler.now();
        const ids: string[] = [];
        for (const [id, at] of dueAt) {
          if (at > now) continue;
          ids.push(id);
          // From when it was due, so the tick does not stretch the interval; from now after a long stall.
          const following = at + next();
          dueAt.set(id, following > now ? following : now + next());
        }
        return ids;
      }),
    );
    return merge(joinAndLeave, due);
  });
}

export type PollOutcome =
  | { kind: "report"; cabinetId: string; polledAt: number; cells: ReportedCell[] }
  /** No answer in time. */
  | { kind: "missed"; cabinetId: string; polledAt: number }
  /** Not asked at all (the broker is down): says nothing about the cabinet. */
  | { kind: "skipped"; cabinetId: string; polledAt: number; reason: string };

/** Polls each due cabinet, at most `concurrency` at once; failures become outcomes, never errors. */
export function pollEach(
  poll: (id: string) => Promise<{ cells: readonly ReportedCell[] }>,
  options: { now: () => number; concurrency: number },
): (due$: Observable<string>) => Observable<PollOutcome> {
  return (due$) =>
    due$.pipe(
      mergeMap(
        (cabinetId) =>
          defer(() => {
            const polledAt = options.now();
            return from(poll(cabinetId)).pipe(
              map((report): PollOutcome => ({ kind: "report", cabinetId, polledAt, cells: [...report.cells] })),
              catchError((error: { code?: string }) =>
                of<PollOutcome>(
                  error?.code === "cabinet_not_responding"
                    ? { kind: "missed", cabinetId, polledAt }
                    : { kind: "skipped", cabinetId, polledAt, reason: error?.code ?? String(error) },
                ),
              ),
            );
          }),
        options.concurrency,
      ),
    );
}

/**
 * Only what the cabinet actor needs to hear: every miss, a report that differs from the last one
 * it took, the first report after a miss, and an unchanged one at least every `heartbeatMs`.
 * `heartbeatMs` 0: every report. The others go to `heard` with when they came (nothing of the
 * actor's changes, but the cabinet was heard). `notTaken` forgets a report the actor did not
 * apply (mid-unlock, or older than a device event) or never got: the same cells reported next are
 * a change to it, not a repeat.
 */
export function skipUnchangedReports(
  heartbeatMs: number,
  now: () => number,
  heard: (cabinetId: string, at: number) => void = () => {},
): { operator: MonoTypeOperatorFunction<PollOutcome>; notTaken(report: PollOutcome): void } {
  const told = new Map<string, { report: PollOutcome; key: string; at: number } | "missed">();
  const operator = filter<PollOutcome>((o) => {
    if (o.kind === "skipped") return false;
    if (o.kind === "missed") {
      told.set(o.cabinetId, "missed");
      return true;
    }
    const key = JSON.stringify(o.cells);
    const last = told.get(o.cabinetId);
    const t = now();
    if (heartbeatMs > 0 && last && last !== "missed" && last.key === key && t - last.at < heartbeatMs) {
      heard(o.cabinetId, t);
      return false;
    }
    told.set(o.cabinetId, { report: o, key, at: t });
    return true;
  });
  const notTaken = (report: PollOutcome) => {
    const last = told.get(report.cabinetId);
    // Only if no later outcome of that cabinet replaced it meanwhile.
    if (last !== "missed" && last?.report === report) told.delete(report.cabinetId);
  };
  return { operator, notTaken };
}

export interface CabinetPollingOptions {
  cabinets$: Observable<readonly string[]>;
  /** Cabinets to poll at once, besides their schedule (e.g. just registered: no need to wait for its phase). */
  pollNow$?: Observable<string>;
  schedule: ScheduleOptions;
  poll: (id: string) => Promise<{ cells: readonly ReportedCell[] }>;
  now: () => number;
  /** Polls in flight at most. */
  concurrency: number;
  heartbeatMs: number;
  /** Sees the unchanged reports not told to the actor, with when each came (the cabinet's last report). */
  heard?: (cabinetId: string, at: number) => void;
  /**
   * Tells the cabinet actor; resolves after it committed, for a report with whether the actor
   * applied it (`{ applied: false }`: ignored, so the same cells must reach it again).
   */
  tell: (outcome: PollOutcome) => Promise<{ applied: boolean } | undefined>;
  /** Sees every outcome (metrics) before unchanged reports are dropped. */
  observe?: (outcome: PollOutcome) => void;
  onTellError?: (outcome: PollOutcome, error: unknown) => void;
}

/** The whole pipeline: due cabinets -> polls -> outcomes worth telling -> told. Emits what was told. */
export function cabinetPolling(o: CabinetPollingOptions): Observable<PollOutcome> {
  const unchanged = skipUnchangedReports(o.heartbeatMs, o.now, o.heard);
  return merge(spreadOverInterval(o.cabinets$, o.schedule), o.pollNow$ ?? EMPTY).pipe(
    pollEach(o.poll, { now: o.now, concurrency: o.concurrency }),
    tap((outcome) => o.observe?.(outcome)),
    unchanged.operator,
    mergeMap(
      (outcome) =>
        defer(() => o.tell(outcome)).pipe(
          tap((answer) => void (answer?.applied === false && unchanged.notTaken(outcome))),
          map(() => outcome),
          catchError((error) => {
            unchanged.notTaken(outcome);
            o.onTellError?.(outcome, error);
            return EMPTY;
          }),
        ),
      o.concurrency,
    ),
  );
}
