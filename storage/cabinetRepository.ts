// The cabinets and accumulators query tables (seed 002): projected from the cabinet and
// accumulator actors inside the group commit, read by the routes and the poller.
import type { JSONValue } from "postgres";
import { topState, type ProjectedActor } from "../actors/ActorKind.ts";
import type { CabinetContext } from "../machines/cabinet.machine.ts";
import type { AccumulatorContext } from "../machines/accumulator.machine.ts";
import { isActive, type Cell } from "../machines/cabinetCells.ts";
import type { Queryable, Tx } from "./database.ts";

export type Connectivity = "online" | "unresponsive";

/** online / unresponsive from a registered cabinet's state value. */
export function connectivityOf(value: ProjectedActor["value"]): Connectivity | undefined {
  if (typeof value !== "object" || !("registered" in value)) return undefined;
  return (value.registered as { connectivity: Connectivity }).connectivity;
}

export interface BookingRow {
  booking_id: string;
  kind: "issue" | "return";
  contractor_id: string;
  cells: number[];
  status: string;
  created_at: string;
  expires_at: string;
}

export type CellRow = Omit<Cell, "open_until"> & { open: boolean };

export interface CabinetRow {
  cabinet_id: string;
  lat: number;
  lon: number;
  state: Connectivity;
  cells: CellRow[];
  bookings: BookingRow[];
  last_report_at: Date | null;
  registered_at: Date;
  updated_at: Date;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The `cabinets` rows as the actors' committed states; runs inside the group commit. */
export async function projectCabinets(tx: Tx, actors: readonly ProjectedActor[]): Promise<void> {
  const rows = actors.flatMap((a) => {
    const state = connectivityOf(a.value);
    if (!state) return [];
    const c = a.context as CabinetContext;
    const bookings: BookingRow[] = c.bookings.filter(isActive).map((b) => ({
      booking_id: b.booking_id,
      kind: b.kind,
      contractor_id: b.contractor_id,
      cells: b.cells,
      status: b.status,
      created_at: iso(b.created_at),
      expires_at: iso(b.expires_at),
    }));
    return [
      {
        cabinet_id: c.id,
        lat: c.lat,
        lon: c.lon,
        state,
        // `open`: opened by an unlock and not yet reported closed.
        cells: c.cells.map(({ open_until, ...cell }) => ({ ...cell, open: open_until !== null && open_until > a.at })),
        bookings,
        last_report_at: c.last_report_at === null ? null : iso(c.last_report_at),
        registered_at: iso(c.registered_at),
        updated_at: iso(a.at),
      },
    ];
  });
  if (rows.length === 0) return;
  await tx`insert into cabinets (cabinet_id, lat, lon, state, cells, bookings, last_report_at, registered_at, updated_at)
    select * from jsonb_to_recordset(${tx.json(rows as unknown as JSONValue)}::jsonb) as x(
      cabinet_id text, lat double precision, lon double precision, state text, cells jsonb, bookings jsonb,
      last_report_at timestamptz, registered_at timestamptz, updated_at timestamptz)
    on conflict (cabinet_id) do update set lat = excluded.lat, lon = excluded.lon, state = excluded.state, cells = excluded.cells,
      bookings = excluded.bookings, last_report_at = excluded.last_report_at, updated_at = excluded.updated_at`;
}

export interface AccumulatorRow {
  accumulator_id: string;
  location: "cabinet" | "contractor" | "scooter" | "unknown";
  contractor_id: string | null;
  cabinet_id: string | null;
  cell: number | null;
  scooter_id: string | null;
  charge: number | null;
  from_cabinet_id: string | null;
  from_cell: number | null;
  updated_at: Date;
}

/** The `accumulators` rows; an accumulator never located (still `absent`) has none. */
export async function projectAccumulators(tx: Tx, actors: readonly ProjectedActor[]): Promise<void> {
  const rows = actors.flatMap((a) => {
    if (a.value === "absent") return [];
    const c = a.context as AccumulatorContext;
    const l = c.location;
    const from = l?.kind === "contractor" && l.from && "cabinet_id" in l.from ? l.from : null;
    return [
      {
        accumulator_id: c.id,
        location: l?.kind ?? "unknown",
        contractor_id: l?.kind === "contractor" || l?.kind === "scooter" ? l.contractor_id : null,
        cabinet_id: l?.kind === "cabinet" ? l.cabinet_id : null,
        cell: l?.kind === "cabinet" ? l.cell : null,
        scooter_id: l?.kind === "scooter" ? l.scooter_id : null,
        charge: c.charge,
        from_cabinet_id: from?.cabinet_id ?? null,
        from_cell: from?.cell ?? null,
        updated_at: iso(c.updated_at || a.at),
      },
    ];
  });
  if (rows.length === 0) return;
  await tx`insert into accumulators (accumulator_id, location, contractor_id, cabinet_id, cell, scooter_id, charge, from_cabinet_id, from_cell, updated_at)
    select * from jsonb_to_recordset(${tx.json(rows as unknown as JSONValue)}::jsonb) as x(
      accumulator_id text, location text, contractor_id text, cabinet_id text, cell integer, scooter_id text,
      charge double precision, from_cabinet_id text, from_cell integer, updated_at timestamptz)
    on conflict (accumulator_id) do update set location = excluded.location, contractor_id = excluded.contractor_id,
      cabinet_id = excluded.cabinet_id, cell = excluded.cell, scooter_id = excluded.scooter_id, charge = excluded.charge,
      from_cabinet_id = excluded.from_cabinet_id, from_cell = excluded.from_cell, updated_at = excluded.updated_at`;
}

export async function findCabinet(sql: Queryable, cabinetId: string): Promise<CabinetRow | undefined> {
  const [row] = await sql<CabinetRow[]>`select * from cabinets where cabinet_id = ${cabinetId}`;
  return row;
}

/** Every registered cabinet id (what the pollers share out). */
export async function listCabinetIds(sql: Queryable): Promise<string[]> {
  return (await sql<{ cabinet_id: string }[]>`select cabinet_id from cabinets order by cabinet_id`).map((r) => r.cabinet_id);
}

export interface CabinetAvailability {
  cabinet_id: string;
  lat: number;
  lon: number;
  state: Connectivity;
  last_report_at: Date | null;
  charged_available: number;
  empty_cells_available: number;
  distance_m: number | null;
}

/**
 * Cabinets with what can be booked in them now: unbooked accumulators charged `minCharge`% or
 * more, unbooked empty cells; nearest first when a point is given, else by id.
 */
export async function listAvailability(
  sql: Queryable,
  options: { minCharge: number; near?: { lat: number; lon: number }; limit: number },
): Promise<CabinetAvailability[]> {
  const { near } = options;
  const distance = near
    ? sql`2 * 6371000 * asin(sqrt(power(sin(radians(c.lat - ${near.lat}) / 2), 2) +
        cos(radians(${near.lat})) * cos(radians(c.lat)) * power(sin(radians(c.lon - ${near.lon}) / 2), 2)))`
    : sql`null::double precision`;
  return sql<CabinetAvailability[]>`
    select c.cabinet_id, c.lat, c.lon, c.state, c.last_report_at, ${distance} as distance_m,
      (select count(*)::int from jsonb_array_elements(c.cells) e
        where e->>'accumulator_id' is not null and e->>'booking_id' is null and (e->>'charge')::float8 >= ${options.minCharge}) as charged_available,
      (select count(*)::int from jsonb_array_elements(c.cells) e
        where e->>'accumulator_id' is null and e->>'booking_id' is null) as empty_cells_available
    from cabinets c
    order by ${near ? sql`distance_m, c.cabinet_id` : sql`c.cabinet_id`}
    limit ${options.limit}`;
}

export async function findAccumulator(sql: Queryable, accumulatorId: string): Promise<AccumulatorRow | undefined> {
  const [row] = await sql<AccumulatorRow[]>`select * from accumulators where accumulator_id = ${accumulatorId}`;
  return row;
}

/** What a technician holds now. */
export async function listContractorAccumulators(sql: Queryable, contractorId: string): Promise<AccumulatorRow[]> {
  return sql<AccumulatorRow[]>`select * from accumulators where location = 'contractor' and contractor_id = ${contractorId} order by accumulator_id`;
}

export interface CabinetStats {
  by_location: { location: string; count: number }[];
  charge_histogram: { bucket: number; count: number }[];
  cabinets: { cabinet_id: string; state: Connectivity; cells: number; accumulators: number; charged: number; empty_cells: number; booked_cells: number }[];
}

/** Accumulators per location kind, the charge histogram (10% buckets) of those in cabinets, per cabinet counts. */
export async function cabinetStats(sql: Queryable, chargedMin: number): Promise<CabinetStats> {
  const [byLocation, histogram, cabinets] = await Promise.all([
    sql<{ location: string; count: number }[]>`select location, count(*)::int as count from accumulators group by location order by location`,
    sql<{ bucket: number; count: number }[]>`select least(floor(charge / 10), 9)::int as bucket, count(*)::int as count
      from accumulators where location = 'cabinet' and charge is not null group by 1 order by 1`,
    sql<CabinetStats["cabinets"]>`select c.cabinet_id, c.state, jsonb_array_length(c.cells) as cells,
        (select count(*)::int from jsonb_array_elements(c.cells) e where e->>'accumulator_id' is not null) as accumulators,
        (select count(*)::int from jsonb_array_elements(c.cells) e where e->>'accumulator_id' is not null and (e->>'charge')::float8 >= ${chargedMin}) as charged,
        (select count(*)::int from jsonb_array_elements(c.cells) e where e->>'accumulator_id' is null) as empty_cells,
        (select count(*)::int from jsonb_array_elements(c.cells) e where e->>'booking_id' is not null) as booked_cells
      from cabinets c order by c.cabinet_id`,
  ]);
  return { by_location: byLocation, charge_histogram: histogram, cabinets };
}
