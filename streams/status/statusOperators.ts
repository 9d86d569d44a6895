// The status stream's steps (SPEC 3.2), one operator each, named as the spec names them (the
// region filter and the tell have files of their own). Every message leaves the pipeline
// settled: acknowledged when dropped on purpose, dead-lettered when malformed, or acknowledged
// after the session actor committed what it carried.
import { Result, Schema, SchemaIssue } from "effect";
import { filter, map, Observable, type MonoTypeOperatorFunction, type OperatorFunction } from "rxjs";
import { driverKey, type DriverKey } from "../../integrations/driverKey.ts";
import {
  DriverMemory,
  StatusPayload,
  type ConnectivityChange,
  type CountOutcome,
  type DriverStatus,
  type LicencedStatus,
  type OutOfScope,
  type StatusMessage,
} from "./statusMessages.ts";

const text = new TextDecoder("utf-8", { fatal: true });
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1();
const decodePayload = Schema.decodeUnknownResult(StatusPayload, { errors: "all" });

/** Which times a status may carry: not too far ahead of the wall clock, not older than the stream keeps. */
export interface Freshness {
  now(): number;
  maxFutureMs: number;
  maxAgeMs: number;
}

/** The status a message carries (with `updated_at` in epoch ms), or why it cannot be read or trusted. */
export function readStatus(data: Uint8Array, freshness?: Freshness): { status: StatusPayload; at: number } | { reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text.decode(data));
  } catch {
    return { reason: "not JSON" };
  }
  const decoded = decodePayload(json);
  if (Result.isFailure(decoded)) {
    const issues = formatIssues(decoded.failure.issue).issues.map((i) => `${(i.path ?? []).join(".") || "(message)"}: ${i.message}`);
    return { reason: issues.join("; ") };
  }
  const at = Date.parse(decoded.success.updated_at);
  if (Number.isNaN(at)) return { reason: "updated_at: not a real time" };
  if (freshness) {
    // Stored as the newest, a time from the future would make every later real status look old.
    const now = freshness.now();
    if (at > now + freshness.maxFutureMs) return { reason: `updated_at: more than ${freshness.maxFutureMs} ms in the future` };
    if (at < now - freshness.maxAgeMs) return { reason: `updated_at: older than the stream keeps (${freshness.maxAgeMs} ms)` };
  }
  return { status: decoded.success, at };
}

/**
 * Decode with Schema; a message that does not decode is dead-lettered with the reason, then
 * acknowledged (if the dead letter cannot be written, the message stays unacknowledged and comes back).
 */
export function decodeStatuses(
  deadLetter: (message: StatusMessage, reason: string) => Promise<void>,
  count: CountOutcome,
  freshness?: Freshness,
): OperatorFunction<StatusMessage, DriverStatus> {
  return passOrSettle<StatusMessage, DriverStatus>((message, emit) => {
    const read = readStatus(message.data, freshness);
    if ("status" in read) {
      const s = read.status;
      emit({ driver: driverKey(s.park_id, s.driver_id), park_id: s.park_id, driver_id: s.driver_id, status: s.status, at: read.at, settle: message.settle });
      return undefined;
    }
    return deadLetter(message, read.reason).then(
      () => {
        message.settle.ack();
        count("dead_lettered");
      },
      () => {},
    );
  });
}

/**
 * An operator whose step either emits at once (the hot path, no inner observable per value) or
 * returns a promise of later work; completion waits for that work.
 */
function passOrSettle<A, B>(step: (value: A, emit: (b: B) => void) => Promise<void> | undefined): OperatorFunction<A, B> {
  return (source) =>
    new Observable<B>((subscriber) => {
      let pending = 0;
      let done = false;
      const emit = (b: B) => subscriber.next(b);
      const subscription = source.subscribe({
        next: (value) => {
          const later = step(value, emit);
          if (!later) return;
          pending++;
          later
            .catch((error: unknown) => subscriber.error(error))
            .finally(() => {
              if (--pending === 0 && done) subscriber.complete();
            });
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          done = true;
          if (pending === 0) subscriber.complete();
        },
      });
      return () => subscription.unsubscribe();
    });
}

export interface LicenceLookup {
  licenceOf(driver: DriverKey): string | undefined;
  /** Syncs the profiles cache now (shared by concurrent callers). */
  refreshNow(): Promise<void>;
}

/**
 * Resolve the person (driver_license_pd_id) behind the park profile. A profile the cache does
 * not know yet may be brand new: the cache is synced once (at most every `missRefreshMs`) and
 * asked again; still unknown, the status is dropped.
 */
export function resolveLicences(
  profiles: LicenceLookup,
  count: CountOutcome,
  options: { missRefreshMs: number; now: () => number },
): OperatorFunction<DriverStatus, LicencedStatus> {
  let refreshing: Promise<void> | undefined;
  let lastRefresh = Number.NEGATIVE_INFINITY;
  const refreshOnce = (): Promise<void> => {
    if (refreshing) return refreshing;
    if (options.now() - lastRefresh < options.missRefreshMs) return Promise.resolve();
    lastRefresh = options.now();
    refreshing = profiles.refreshNow().finally(() => (refreshing = undefined));
    return refreshing;
  };
  const withLicence = (s: DriverStatus): LicencedStatus | undefined => {
    const licence = profiles.licenceOf(s.driver);
    return licence === undefined
      ? undefined
      : { driver: s.driver, park_id: s.park_id, driver_id: s.driver_id, status: s.status, at: s.at, settle: s.settle, licence };
  };
  return passOrSettle<DriverStatus, LicencedStatus>((s, emit) => {
    const found = withLicence(s);
    if (found) {
      emit(found);
      return undefined;
    }
    return refreshOnce().then(() => {
      const late = withLicence(s);
      if (late) return emit(late);
      s.settle.ack();
      count("unknown_driver");
    });
  });
}

/** A status that can only end a connection: offline, or of a driver out of scope. Never filtered. */
export const isDisconnect = (s: LicencedStatus): boolean => s.status === "offline" || s.outOfScope !== undefined;

/** The status as a disconnect of a driver the filter `by` found out of scope (see `OutOfScope`). */
export const markOutOfScope = (s: LicencedStatus, by: OutOfScope): LicencedStatus => ({ ...s, outOfScope: by });

/**
 * Connect only drivers working in at least one of the configured categories: another driver's
 * online or busy goes on as a disconnect (he may have lost his category while connected).
 */
export function keepCategories(categoriesOf: (driver: DriverKey) => readonly string[], wanted: readonly string[]): MonoTypeOperatorFunction<LicencedStatus> {
  const set = new Set(wanted);
  return map((s) => (isDisconnect(s) || categoriesOf(s.driver).some((c) => set.has(c)) ? s : markOutOfScope(s, "category_filtered")));
}

/** Project to connectivity: online and busy are connected, offline and out of scope are not. */
export function toConnectivity(): OperatorFunction<LicencedStatus, ConnectivityChange> {
  return map((s) => ({
    driver: s.driver,
    licence: s.licence,
    park_id: s.park_id,
    driver_id: s.driver_id,
    connected: !isDisconnect(s),
    at: s.at,
    settle: s.settle,
    outOfScope: s.outOfScope, // always set, if undefined: one object shape on the hot path
  }));
}

/**
 * Per driver, drop statuses not newer than the newest seen (`updated_at` order, not arrival).
 * The newest one is either told already or still held, so dropping the older is safe.
 */
export function dropStale(count: CountOutcome, capacity = 1_000_000): MonoTypeOperatorFunction<ConnectivityChange> {
  const newest = new DriverMemory<{ at: number }>(capacity);
  return filter((c) => {
    const seen = newest.get(c.driver);
    if (seen === undefined) newest.set(c.driver, { at: c.at });
    else if (c.at > seen.at) seen.at = c.at;
    else {
      c.settle.ack();
      count("stale");
      return false;
    }
    return true;
  });
}

/**
 * Per driver, drop a connectivity equal to the previous one that passed here (online <-> busy;
 * after the coalescing window, `unchanged`: flips inside it that ended where they began). Only
 * sound when this instance sees every status of the driver (one consumer); in a cluster the
 * statuses of one driver are spread over instances and the session actor drops repeats instead.
 * A dropped status of a driver out of scope counts as filtered: the filter dropped it in effect.
 */
export function dropRepeats(
  count: CountOutcome,
  capacity = 1_000_000,
  outcome: "repeat" | "unchanged" = "repeat",
): MonoTypeOperatorFunction<ConnectivityChange> {
  const last = new DriverMemory<{ connected: boolean }>(capacity);
  return filter((c) => {
    const seen = last.get(c.driver);
    if (seen?.connected === c.connected) {
      c.settle.ack();
      count(c.outOfScope ?? outcome);
      return false;
    }
    if (seen === undefined) last.set(c.driver, { connected: c.connected });
    else seen.connected = c.connected;
    return true;
  });
}
