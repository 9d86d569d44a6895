// What the cabinet routes share: the prefix, their dependencies and policy, the path parameters,
// the views of the projection rows, and the helpers every resource uses.
import { Schema } from "effect";
import type { ActorSystem } from "../../../actors/ActorSystem.ts";
import { EventRejectedError } from "../../../actors/errors.ts";
import { CabinetId } from "../../../integrations/cabinet/index.ts";
import { ReleaseEvent } from "../../../machines/cabinet.machine.ts";
import type { AccumulatorMove } from "../../../machines/cabinetCells.ts";
import { type AccumulatorRow, type CabinetRow, findCabinet } from "../../../storage/cabinetRepository.ts";
import type { Sql } from "../../../storage/database.ts";
import { type HttpError, notFound } from "../../errors.ts";
import type { RouteDeps } from "../../route.ts";

export const prefix = "/scooter-accumulator/v1";

export interface CabinetPolicy {
  bookingTtlMs: number;
  commandTimeoutMs: number;
  /** Charge (%) that counts as charged when a request names none. */
  chargedMinCharge: number;
}

export interface CabinetRouteDeps extends RouteDeps {
  system: ActorSystem;
  sql: Sql;
  policy: CabinetPolicy;
  /** The runtime clock, which the cabinet actors read their deadlines by. */
  now(): number;
  /** A cabinet was registered here: poll it without waiting for the next refresh. */
  registered(cabinetId: string): void;
  /** The MQTT link to the cabinets: `check` rejects with MqttUnavailableError (503) while it is down. */
  broker: { check(): Promise<void> };
}

/** An id in a path: accumulators, contractors, scooters. */
export const Id = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128));
export const CabinetParams = Schema.Struct({ cabinet_id: CabinetId });
export const BookingParams = Schema.Struct({ cabinet_id: CabinetId, booking_id: ReleaseEvent.fields.booking_id });

export const iso = (ms: number) => new Date(ms).toISOString();

export const cabinetView = (c: CabinetRow) => ({
  cabinet_id: c.cabinet_id,
  lat: c.lat,
  lon: c.lon,
  online: c.state === "online",
  state: c.state,
  last_report_at: c.last_report_at?.toISOString() ?? null,
  registered_at: c.registered_at.toISOString(),
  cells: c.cells.map(({ open_until: _openUntil, ...cell }) => cell),
  bookings: c.bookings,
});

export const accumulatorView = (a: AccumulatorRow) => ({
  accumulator_id: a.accumulator_id,
  location: a.location,
  cabinet_id: a.cabinet_id,
  cell: a.cell,
  contractor_id: a.contractor_id,
  scooter_id: a.scooter_id,
  charge: a.charge,
  taken_from: a.from_cabinet_id === null ? null : { cabinet_id: a.from_cabinet_id, cell: a.from_cell },
  updated_at: a.updated_at.toISOString(),
});

/** The cabinet's row, or 404. */
export async function requireCabinet(sql: Sql, id: string): Promise<CabinetRow> {
  const cabinet = await findCabinet(sql, id);
  if (!cabinet) throw notFound("cabinet");
  return cabinet;
}

/**
 * Moves the cabinet already put in its outbox, applied now too so the answer reads consistently
 * (a swap right after an open finds the accumulators with the contractor). Repeats are no-ops.
 */
export const applyMoves = (system: ActorSystem, moves: readonly AccumulatorMove[]) =>
  Promise.all(moves.map((m) => system.tell(m.to, m.event, { timeoutMs: 5_000 })));

/** For `.catch`: an actor in a final state (decommissioned, written off) rejects every event; that is `instead`. */
export const finalAs =
  (instead: HttpError) =>
  (error: unknown): never => {
    throw error instanceof EventRejectedError ? instead : error;
  };

/** Asks the cabinet's actor; one decommissioned since the route looked it up takes no events: 404, as it would be now. */
export const askCabinet = <T>(system: ActorSystem, cabinetId: string, event: { type: string; [field: string]: unknown }, options?: { timeoutMs?: number }) =>
  system.ask<T>(`cabinet/${cabinetId}`, event, options).catch(finalAs(notFound("cabinet")));

/** For `.catch`: the actor is in a final state already, the one a repeat of this request wants. */
export const alreadyFinal = (error: unknown): void => {
  if (!(error instanceof EventRejectedError)) throw error;
};
