// What flows through the status stream: raw JetStream messages, decoded driver statuses, and
// connectivity changes, each carrying the handle that settles its message once we are done.
import { Schema } from "effect";
import { PARTNER_ID_PATTERN, type DriverKey } from "../../integrations/driverKey.ts";

/** How the pipeline settles the JetStream message a value came from. */
export interface Settle {
  /** Done with it: JetStream will not deliver it again. */
  ack(): void;
  /** Still working on it: pushes its redelivery back (ack wait). */
  working(): void;
  /**
   * Gave up on it (poison): dead-letter it with the reason (and what became of it), then
   * acknowledge; if the dead letter cannot be written it stays unacknowledged and comes back.
   */
  reject(reason: string, detail?: unknown): void;
}

export interface StatusMessage {
  /** Stream sequence number: unique per message, kept by redeliveries. */
  readonly seq: number;
  readonly data: Uint8Array;
  readonly settle: Settle;
}

const Iso = Schema.String.check(
  Schema.isPattern(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, { message: "expected an ISO 8601 time with a zone" }),
);

/** A message on `contractor.statuses.events`; unknown extra fields are ignored. */
const PartnerId = Schema.String.check(Schema.isPattern(PARTNER_ID_PATTERN, { message: "expected 1..64 letters, digits, '.', '_', ':' or '-'" }));

export const StatusPayload = Schema.Struct({
  park_id: PartnerId,
  driver_id: PartnerId,
  status: Schema.Literals(["online", "busy", "offline"]),
  updated_at: Iso,
});
export type StatusPayload = typeof StatusPayload.Type;

export interface DriverStatus {
  /** `park_id/driver_id`, built once at decode: every per-driver lookup downstream uses it. */
  readonly driver: DriverKey;
  readonly park_id: string;
  readonly driver_id: string;
  readonly status: StatusPayload["status"];
  /** `updated_at` in epoch ms: when the status changed (order is by this, not by arrival). */
  readonly at: number;
  readonly settle: Settle;
}

/**
 * Which filter found the driver out of scope (not in a configured category or region). The filters
 * decide who gets connected, never who gets disconnected: his status goes on as a disconnect, so
 * KRT hears it if it holds him connected, and is counted under this outcome if it ends as a repeat.
 */
export type OutOfScope = "category_filtered" | "region_filtered";

export interface LicencedStatus extends DriverStatus {
  /** The person behind the profile: `driver_license_pd_id`. */
  readonly licence: string;
  readonly outOfScope?: OutOfScope;
}

export interface ConnectivityChange {
  readonly driver: DriverKey;
  readonly licence: string;
  readonly park_id: string;
  readonly driver_id: string;
  /** online and busy are connected, offline (or out of scope) is not. */
  readonly connected: boolean;
  readonly at: number;
  readonly settle: Settle;
  readonly outOfScope?: OutOfScope;
}

/** What became of a message; counted in `fleet_status_events_total{outcome}`. */
export type StatusOutcome =
  | "dead_lettered"
  | "unknown_driver"
  | "category_filtered"
  | "region_filtered"
  | "stale"
  | "repeat"
  | "superseded"
  | "unchanged"
  | "told";

export type CountOutcome = (outcome: StatusOutcome, n?: number) => void;

/**
 * Per-driver memory with a size cap: the drivers first seen longest ago are forgotten first (an
 * update keeps its place: no delete and re-insert per status). A forgotten driver's next status
 * passes as if first seen; the session actor still orders it. Filters keep a small object per
 * driver and update it in place: a driver seen before costs one lookup, not a `get` and a `set`
 * (each a hash lookup in a map of every driver, mostly a cache miss at 50,000 drivers).
 */
export class DriverMemory<V> {
  readonly #map = new Map<string, V>();
  constructor(readonly capacity: number) {}

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  set(key: string, value: V): void {
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value!);
  }

  get size(): number {
    return this.#map.size;
  }
}
