// The cabinet's cells and bookings as plain data, and the pure rules over them: which cells a
// booking may reserve, what an unlock result, an inventory report or a closed cell changes, and
// which accumulator moves follow. cabinet.machine.ts applies these in its turns.
import type { LocatedEvent, MissingEvent } from "./accumulator.machine.ts";

export interface Cell {
  cell: number;
  accumulator_id: string | null;
  /** Percent, as last reported; null when unknown (e.g. just put in). */
  charge: number | null;
  /** The active booking holding this cell. */
  booking_id: string | null;
  /**
   * Opened by an unlock and not yet reported closed: until then (at most until this time) what
   * the unlock and the closing door say wins over inventory reports, which would otherwise show
   * an issued accumulator still inside while the technician takes it.
   */
  open_until: number | null;
}

export type BookingKind = "issue" | "return";
/** booked -> opening -> opened -> completed (return: every opened cell closed); or released / expired. */
export type BookingStatus = "booked" | "opening" | "opened" | "completed" | "released" | "expired";

export interface OpenedCell {
  cell: number;
  accumulator_id: string | null;
}

/** What the device answered to the booking's unlock, recorded once; repeats of `open` return it. */
export interface UnlockRecord {
  request_id: string;
  opened: OpenedCell[];
  failed: number[];
  at: number;
  /** Arrived after the open had already been answered 504. */
  late: boolean;
}

export interface Booking {
  booking_id: string;
  kind: BookingKind;
  contractor_id: string;
  cells: number[];
  /** issue: the accumulator reserved in each cell, as it was at booking time. */
  reserved: OpenedCell[];
  ttl_ms: number;
  created_at: number;
  expires_at: number;
  status: BookingStatus;
  /** Every unlock request sent for it, oldest first; a late answer is matched against these. */
  request_ids: string[];
  result: UnlockRecord | null;
  /** Asks waiting for the unlock in flight. */
  waiting: string[];
  /**
   * When the latest of those asks stops waiting (runtime clock); absent: no caller set one. An
   * unlock that would end after it is not worth sending: its caller already heard "not done".
   */
  reply_by?: number;
  /** return: opened cells the device reported closed. */
  closed: number[];
  ended_at: number | null;
}

export interface ReportedCell {
  cell: number;
  accumulator_id: string | null;
  charge: number | null;
}

export type AccumulatorMove = { to: string; event: LocatedEvent | MissingEvent };

export const ACTIVE: readonly BookingStatus[] = ["booked", "opening", "opened"];
export const isActive = (b: Booking) => ACTIVE.includes(b.status);
/** Finished bookings kept so a late repeat of `open` still finds its recorded result. */
export const FINISHED_KEPT = 20;

/** Held by a booking, or its door still open after an unlock: not bookable. */
export const isHeld = (c: Cell, at: number) => c.booking_id !== null || (c.open_until !== null && c.open_until > at);

/** Accumulators promised to active issue bookings (an opening one keeps its promise while cells change). */
export const promisedAccumulators = (bookings: readonly Booking[]): Set<string> =>
  new Set(
    bookings
      .filter((b) => b.status === "booked" || b.status === "opening")
      .flatMap((b) => b.reserved.flatMap((r) => (r.accumulator_id ? [r.accumulator_id] : []))),
  );

/**
 * Cells an issue booking may take: charged enough, not held, holding no accumulator promised to
 * another booking; fullest first, then by number.
 */
export function cellsToIssue(cells: readonly Cell[], count: number, minCharge: number, promised: ReadonlySet<string> = new Set(), at = 0): Cell[] | undefined {
  const free = cells
    .filter((c) => c.accumulator_id !== null && !isHeld(c, at) && c.charge !== null && c.charge >= minCharge && !promised.has(c.accumulator_id))
    .sort((a, b) => b.charge! - a.charge! || a.cell - b.cell);
  return free.length >= count ? free.slice(0, count) : undefined;
}

/** Cells a return booking may take: empty and not held, lowest number first. */
export function cellsToReturn(cells: readonly Cell[], count: number, at = 0): Cell[] | undefined {
  const free = cells.filter((c) => c.accumulator_id === null && !isHeld(c, at)).sort((a, b) => a.cell - b.cell);
  return free.length >= count ? free.slice(0, count) : undefined;
}

export const holdCells = (cells: readonly Cell[], numbers: readonly number[], bookingId: string | null): Cell[] =>
  cells.map((c) => (numbers.includes(c.cell) ? { ...c, booking_id: bookingId } : c));

/** Cells still held by a booking are let go (released, expired, completed). */
export const freeCellsOf = (cells: readonly Cell[], bookingId: string): Cell[] =>
  cells.map((c) => (c.booking_id === bookingId ? { ...c, booking_id: null } : c));

export const locatedInCabinet = (cabinetId: string, c: { cell: number; accumulator_id: string; charge: number | null }, stamp: number): AccumulatorMove => ({
  to: `accumulator/${c.accumulator_id}`,
  event: { type: "located", stamp, location: { kind: "cabinet", cabinet_id: cabinetId, cell: c.cell, charge: c.charge } },
});

export const missingFromCabinet = (cabinetId: string, accumulatorId: string, cell: number, stamp: number): AccumulatorMove => ({
  to: `accumulator/${accumulatorId}`,
  event: { type: "missing", stamp, cabinet_id: cabinetId, cell },
});

/** An issued accumulator goes to the booking's contractor. */
export const locatedWithContractor = (
  cabinetId: string,
  contractorId: string,
  c: { cell: number; accumulator_id: string },
  stamp: number,
): AccumulatorMove => ({
  to: `accumulator/${c.accumulator_id}`,
  event: { type: "located", stamp, location: { kind: "contractor", contractor_id: contractorId, from: { cabinet_id: cabinetId, cell: c.cell } } },
});

export interface Applied {
  cells: Cell[];
  booking: Booking;
  moves: AccumulatorMove[];
}

/**
 * The device opened `opened` and failed `failed` for this booking. Cells outside the booking are
 * ignored; booking cells in neither list count as failed. issue: opened cells' accumulators go to
 * the contractor and the cells are free; return: opened cells stay held until reported closed.
 */
export function applyUnlock(
  cabinetId: string,
  cells: readonly Cell[],
  booking: Booking,
  answer: { request_id: string; opened: readonly number[]; failed: readonly number[] },
  at: number,
  late: boolean,
): Applied {
  const opened = booking.cells.filter((n) => answer.opened.includes(n));
  const failed = booking.cells.filter((n) => !opened.includes(n));
  const moves: AccumulatorMove[] = [];
  let next = holdCells(cells, failed, null).map((c) => (opened.includes(c.cell) ? { ...c, open_until: at + booking.ttl_ms } : c));
  let openedCells: OpenedCell[];
  if (booking.kind === "issue") {
    openedCells = opened.map((n) => ({ cell: n, accumulator_id: booking.reserved.find((r) => r.cell === n)?.accumulator_id ?? null }));
    for (const c of openedCells)
      if (c.accumulator_id) moves.push(locatedWithContractor(cabinetId, booking.contractor_id, { cell: c.cell, accumulator_id: c.accumulator_id }, at));
    next = next.map((c) => (opened.includes(c.cell) ? { ...c, accumulator_id: null, charge: null, booking_id: null } : c));
  } else {
    openedCells = opened.map((n) => ({ cell: n, accumulator_id: null }));
  }
  const done = booking.kind === "issue" || opened.length === 0;
  return {
    cells: next,
    booking: {
      ...booking,
      status: done ? "completed" : "opened",
      result: { request_id: answer.request_id, opened: openedCells, failed, at, late },
      waiting: [],
      ended_at: done ? at : null,
    },
    moves,
  };
}

/**
 * An inventory report replaces what the cabinet knows of its cells (holds are kept by cell
 * number), except cells whose door is open after an unlock: those keep the cabinet's view until
 * the report agrees with it or the door is reported closed. Moves: accumulators that appeared or
 * changed charge are located here, ones that left without an unlock are reported missing.
 */
export function applyInventory(
  cabinetId: string,
  cells: readonly Cell[],
  report: readonly ReportedCell[],
  at: number,
): { cells: Cell[]; moves: AccumulatorMove[] } {
  const known = new Map(cells.map((c) => [c.cell, c]));
  const before = new Map(cells.filter((c) => c.accumulator_id).map((c) => [c.accumulator_id!, c]));
  // A device naming a cell or an accumulator twice is believed the first time only.
  const rows = [...new Map([...report].reverse().map((r) => [r.cell, r])).values()].sort((a, b) => a.cell - b.cell);
  const reportedIn = new Map<string, number>();
  for (const r of rows) if (r.accumulator_id && !reportedIn.has(r.accumulator_id)) reportedIn.set(r.accumulator_id, r.cell);
  const inOpenDoors = new Set<string>();
  const next: Cell[] = rows.map((r) => {
    const was = known.get(r.cell);
    if (was && was.open_until !== null && was.open_until > at && was.accumulator_id !== r.accumulator_id) {
      // The door is open and the technician is at it: the report lags behind, except that an
      // accumulator it places in another cell is not in this one.
      if (r.accumulator_id) inOpenDoors.add(r.accumulator_id);
      return was.accumulator_id && reportedIn.has(was.accumulator_id) ? { ...was, accumulator_id: null, charge: null } : was;
    }
    const id = r.accumulator_id !== null && reportedIn.get(r.accumulator_id) === r.cell ? r.accumulator_id : null;
    return { cell: r.cell, accumulator_id: id, charge: id ? r.charge : null, booking_id: was?.booking_id ?? null, open_until: null };
  });
  const moves: AccumulatorMove[] = [];
  const present = new Set<string>();
  for (const c of next) {
    if (!c.accumulator_id) continue;
    present.add(c.accumulator_id);
    const was = before.get(c.accumulator_id);
    if (!was || was.cell !== c.cell || was.charge !== c.charge) moves.push(locatedInCabinet(cabinetId, { ...c, accumulator_id: c.accumulator_id }, at));
  }
  for (const [id, was] of before) if (!present.has(id) && !inOpenDoors.has(id)) moves.push(missingFromCabinet(cabinetId, id, was.cell, at));
  return { cells: next, moves };
}

/** A cell's door closed with `accumulatorId` inside (or empty). */
export function applyCellClosed(
  cabinetId: string,
  cells: readonly Cell[],
  cell: number,
  accumulatorId: string | null,
  at: number,
): { cells: Cell[]; moves: AccumulatorMove[] } {
  const was = cells.find((c) => c.cell === cell);
  const prev = was?.accumulator_id ?? null;
  const moves: AccumulatorMove[] = [];
  if (accumulatorId && accumulatorId !== prev) moves.push(locatedInCabinet(cabinetId, { cell, accumulator_id: accumulatorId, charge: null }, at));
  if (prev && prev !== accumulatorId) moves.push(missingFromCabinet(cabinetId, prev, cell, at));
  const updated: Cell = {
    cell,
    accumulator_id: accumulatorId,
    charge: prev === accumulatorId ? (was?.charge ?? null) : null,
    booking_id: was?.booking_id ?? null,
    open_until: null,
  };
  // Seen in this cell now, so it left the cell it was in before (a cell holds one, an accumulator is in one cell).
  const rest = accumulatorId
    ? cells.map((c) => (c.cell !== cell && c.accumulator_id === accumulatorId ? { ...c, accumulator_id: null, charge: null } : c))
    : cells;
  const next = was ? rest.map((c) => (c.cell === cell ? updated : c)) : [...rest, updated].sort((a, b) => a.cell - b.cell);
  return { cells: next, moves };
}

/**
 * A booked issue booking promises what its cells hold now: when a report or a closed door shows
 * other contents, the promise follows, never to a written-off accumulator. An opening one is
 * frozen: its unlock decides.
 */
export function followCells(bookings: readonly Booking[], cells: readonly Cell[], writtenOff: readonly string[] = []): Booking[] {
  const frozen = promisedAccumulators(bookings.filter((b) => b.status === "opening"));
  const holding = (n: number) => {
    const id = cells.find((c) => c.cell === n)?.accumulator_id ?? null;
    return id !== null && (frozen.has(id) || writtenOff.includes(id)) ? null : id; // promised to the unlock in flight, or never to be
  };
  return bookings.map((b) =>
    b.kind === "issue" && b.status === "booked" ? { ...b, reserved: b.cells.map((n) => ({ cell: n, accumulator_id: holding(n) })) } : b,
  );
}

/** Keeps every active booking and the most recent finished ones. */
export function trimBookings(bookings: readonly Booking[]): Booking[] {
  const finished = bookings.filter((b) => !isActive(b));
  if (finished.length <= FINISHED_KEPT) return [...bookings];
  const drop = new Set(finished.slice(0, finished.length - FINISHED_KEPT).map((b) => b.booking_id));
  return bookings.filter((b) => !drop.has(b.booking_id));
}
