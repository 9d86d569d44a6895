// The cabinets and accumulators query tables (seed 002): projected from the cabinet and
// accumulator actors by the group commit's statement, read by the routes and the poller.
import type { JSONValue } from "postgres";
import type { Accepted } from "./actorStore.ts";
import type { Fragment, Queryable } from "./database.ts";

/** A registered cabinet's connectivity: online, or unresponsive after missed polls. */
export type Connectivity = "online" | "unresponsive";

/** An active booking as the `cabinets.bookings` jsonb holds it. */
export interface BookingRow {
  booking_id: string;
  kind: "issue" | "return";
  contractor_id: string;
  cells: number[];
  status: string;
  created_at: string;
  expires_at: string;
}

/** A cell as the `cabinets.cells` jsonb holds it; `open`: opened by an unlock and not yet reported closed. */
export interface CellRow {
  cell: number;
  accumulator_id: string | null;
  /** Percent, as last reported; null when unknown. */
  charge: number | null;
  booking_id: string | null;
  open: boolean;
  /** Epoch ms until which the door counts as open after an unlock (null: closed); such a cell is not bookable. */
  open_until: number | null;
  /** Holds an accumulator written off: neither charged nor empty for a booking, until it is taken out. */
  written_off: boolean;
}

/** A `cabinets` row: what the projection writes and the reads return. */
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

/**
 * Upserts `cabinets` rows (by cabinet_id; `registered_at` is kept; `last_report_at` never moves
 * back, see `recordReportsHeard`) of the accepted commits: a statement of the group commit's.
 */
export function upsertCabinetRows(sql: Queryable, rows: readonly CabinetRow[], accepted: Accepted): Fragment[] {
  if (rows.length === 0) return [];
  const json = rows.map((r) => ({
    ...r,
    last_report_at: r.last_report_at?.toISOString() ?? null,
    registered_at: r.registered_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  }));
  return [
    sql`insert into cabinets (cabinet_id, lat, lon, state, cells, bookings, last_report_at, registered_at, updated_at)
    select * from jsonb_to_recordset(${sql.json(json as unknown as JSONValue)}::jsonb) as x(
      cabinet_id text, lat double precision, lon double precision, state text, cells jsonb, bookings jsonb,
      last_report_at timestamptz, registered_at timestamptz, updated_at timestamptz)
    where ${accepted(sql`x.cabinet_id`)}
    on conflict (cabinet_id) do update set lat = excluded.lat, lon = excluded.lon, state = excluded.state, cells = excluded.cells,
      bookings = excluded.bookings, last_report_at = greatest(cabinets.last_report_at, excluded.last_report_at),
      updated_at = excluded.updated_at`,
  ];
}

/**
 * Moves `last_report_at` forward (never back) for cabinets heard from, in one statement: the
 * reports that changed nothing in a cabinet's cells, which its actor does not hear each time.
 */
export async function recordReportsHeard(sql: Queryable, heard: ReadonlyMap<string, number>): Promise<void> {
  if (heard.size === 0) return;
  // One JSON parameter: postgres.js escapes an array parameter element by element (it showed in the polling profile).
  const rows = [...heard].map(([cabinet_id, at]) => ({ cabinet_id, at: new Date(at).toISOString() }));
  await sql`update cabinets c set last_report_at = h.at
    from jsonb_to_recordset(${sql.json(rows as unknown as JSONValue)}::jsonb) as h(cabinet_id text, at timestamptz)
    where c.cabinet_id = h.cabinet_id and (c.last_report_at is null or c.last_report_at < h.at)`;
}

/** Removes the rows of decommissioned cabinets (of accepted commits): lists, lookups and polling no longer see them. */
export function deleteCabinetRows(sql: Queryable, cabinetIds: readonly string[], accepted: Accepted): Fragment[] {
  if (cabinetIds.length === 0) return [];
  return [sql`delete from cabinets where cabinet_id = any(${sql.array(cabinetIds as string[])}::text[]) and ${accepted(sql`cabinet_id`)}`];
}

/** An `accumulators` row; `from_*`: the cabinet cell a contractor took it from. */
export interface AccumulatorRow {
  accumulator_id: string;
  /** `written_off`: out of service for good; the place fields are null. */
  location: "cabinet" | "contractor" | "scooter" | "unknown" | "written_off";
  contractor_id: string | null;
  cabinet_id: string | null;
  cell: number | null;
  scooter_id: string | null;
  charge: number | null;
  from_cabinet_id: string | null;
  from_cell: number | null;
  updated_at: Date;
}

/** Upserts `accumulators` rows (by accumulator_id) of the accepted commits: a statement of the group commit's. */
export function upsertAccumulatorRows(sql: Queryable, rows: readonly AccumulatorRow[], accepted: Accepted): Fragment[] {
  if (rows.length === 0) return [];
  const json = rows.map((r) => ({ ...r, updated_at: r.updated_at.toISOString() }));
  return [
    sql`insert into accumulators (accumulator_id, location, contractor_id, cabinet_id, cell, scooter_id, charge, from_cabinet_id, from_cell, updated_at)
    select * from jsonb_to_recordset(${sql.json(json as unknown as JSONValue)}::jsonb) as x(
      accumulator_id text, location text, contractor_id text, cabinet_id text, cell integer, scooter_id text,
      charge double precision, from_cabinet_id text, from_cell integer, updated_at timestamptz)
    where ${accepted(sql`x.accumulator_id`)}
    on conflict (accumulator_id) do update set location = excluded.location, contractor_id = excluded.contractor_id,
      cabinet_id = excluded.cabinet_id, cell = excluded.cell, scooter_id = excluded.scooter_id, charge = excluded.charge,
      from_cabinet_id = excluded.from_cabinet_id, from_cell = excluded.from_cell, updated_at = excluded.updated_at`,
  ];
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
/**
 * What a booking would take (machines/cabinetCells.ts `isHeld`): no booking on it, its door not
 * open at `at`, no accumulator written off in it.
 */
const bookable = (sql: Queryable, at: number) =>
  sql`e->>'booking_id' is null and coalesce((e->>'open_until')::float8, 0) <= ${at} and not coalesce((e->>'written_off')::boolean, false)`;

export async function listAvailability(
  sql: Queryable,
  options: { minCharge: number; near?: { lat: number; lon: number }; limit: number; at: number },
): Promise<CabinetAvailability[]> {
  const { near } = options;
  const distance = near
    ? sql`2 * 6371000 * asin(sqrt(power(sin(radians(c.lat - ${near.lat}) / 2), 2) +
        cos(radians(${near.lat})) * cos(radians(c.lat)) * power(sin(radians(c.lon - ${near.lon}) / 2), 2)))`
    : sql`null::double precision`;
  return sql<CabinetAvailability[]>`
    select c.cabinet_id, c.lat, c.lon, c.state, c.last_report_at, ${distance} as distance_m,
      (select count(*)::int from jsonb_array_elements(c.cells) e
        where e->>'accumulator_id' is not null and ${bookable(sql, options.at)} and (e->>'charge')::float8 >= ${options.minCharge}) as charged_available,
      (select count(*)::int from jsonb_array_elements(c.cells) e
        where e->>'accumulator_id' is null and ${bookable(sql, options.at)}) as empty_cells_available
    from cabinets c
    order by ${near ? sql`distance_m, c.cabinet_id` : sql`c.cabinet_id`}
    limit ${options.limit}`;
}

export async function findAccumulator(sql: Queryable, accumulatorId: string): Promise<AccumulatorRow | undefined> {
  const [row] = await sql<AccumulatorRow[]>`select * from accumulators where accumulator_id = ${accumulatorId}`;
  return row;
}

/** What a technician holds now. */
/** The accumulators the projection has in `scooterId`. */
export async function listScooterAccumulators(sql: Queryable, scooterId: string): Promise<AccumulatorRow[]> {
  return sql<AccumulatorRow[]>`select * from accumulators where location = 'scooter' and scooter_id = ${scooterId} order by accumulator_id`;
}

export async function listContractorAccumulators(sql: Queryable, contractorId: string): Promise<AccumulatorRow[]> {
  return sql<AccumulatorRow[]>`select * from accumulators where location = 'contractor' and contractor_id = ${contractorId} order by accumulator_id`;
}

export interface CabinetStats {
  by_location: { location: string; count: number }[];
  charge_histogram: { bucket: number; count: number }[];
  cabinets: { cabinet_id: string; state: Connectivity; cells: number; accumulators: number; charged: number; empty_cells: number; booked_cells: number }[];
}

/** Accumulators per location kind, and the charge histogram (10% buckets) of those in cabinets. */
export async function accumulatorCounts(sql: Queryable): Promise<Pick<CabinetStats, "by_location" | "charge_histogram">> {
  const [byLocation, histogram] = await Promise.all([
    sql<{ location: string; count: number }[]>`select location, count(*)::int as count from accumulators group by location order by location`,
    sql<{ bucket: number; count: number }[]>`select least(floor(charge / 10), 9)::int as bucket, count(*)::int as count
      from accumulators where location = 'cabinet' and charge is not null group by 1 order by 1`,
  ]);
  return { by_location: byLocation, charge_histogram: histogram };
}

/** Accumulators per location kind, the charge histogram (10% buckets) of those in cabinets, per cabinet counts. */
export async function cabinetStats(sql: Queryable, chargedMin: number): Promise<CabinetStats> {
  const [counts, cabinets] = await Promise.all([
    accumulatorCounts(sql),
    sql<CabinetStats["cabinets"]>`select c.cabinet_id, c.state, jsonb_array_length(c.cells) as cells,
        (select count(*)::int from jsonb_array_elements(c.cells) e where e->>'accumulator_id' is not null) as accumulators,
        (select count(*)::int from jsonb_array_elements(c.cells) e where e->>'accumulator_id' is not null and (e->>'charge')::float8 >= ${chargedMin}
          and not coalesce((e->>'written_off')::boolean, false)) as charged,
        (select count(*)::int from jsonb_array_elements(c.cells) e where e->>'accumulator_id' is null) as empty_cells,
        (select count(*)::int from jsonb_array_elements(c.cells) e where e->>'booking_id' is not null) as booked_cells
      from cabinets c order by c.cabinet_id`,
  ]);
  return { ...counts, cabinets };
}
