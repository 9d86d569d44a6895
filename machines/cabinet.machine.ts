// cabinet/<id>: one battery cabinet, the authority for its cells. Once registered it has two
// regions: `connectivity` (online; unresponsive after N missed polls, bookings refused, until the
// device is heard again) and `command` (idle; unlocking one booking's cells, further opens
// queue). Bookings expire by durable timer. An unlock's answer is recorded on its booking, so a
// repeated open answers from the record and never unlocks twice. Accumulators follow every change
// through the outbox (`located` / `missing`, stamped with the turn's time).
//
// The late-answer rule: an `unlock_result` that arrives after its open was answered 504 is
// applied to its booking if the booking is still `booked` or `opening` (the device did open those
// cells, so their accumulators are the contractor's now); the next open returns that record with
// `late: true`. For a released or expired booking it is not applied: the cells are free again and
// the next inventory report reconciles them with what the device holds.
//
// Decommissioned (`DELETE /cabinets/{id}`) is final: refused while a booking is active or an unlock
// is under way; the accumulators still in its cells become `unknown`, since nobody watches that
// cabinet any more. An accumulator written off in a cell (unbooked only) is never booked again here.
import { Schema } from "effect";
import { assertEvent, assign, emit, enqueueActions, fromPromise, raise, setup, type StateValue } from "xstate";
import { cancelTimer, deferReply, reply, replyError, setTimer, tellActor, type Delivered, type Effect } from "../actors/protocol.ts";
import {
  applyCellClosed,
  applyInventory,
  applyUnlock,
  cellsToIssue,
  cellsToReturn,
  followCells,
  freeCellsOf,
  holdCells,
  isActive,
  locatedWithContractor,
  missingFromCabinet,
  promisedAccumulators,
  trimBookings,
  type AccumulatorMove,
  type Applied,
  type Booking,
  type BookingKind,
  type Cell,
  type OpenedCell,
  type ReportedCell,
} from "./cabinetCells.ts";

export interface CabinetContext {
  id: string;
  lat: number;
  lon: number;
  registered_at: number;
  cells: Cell[];
  /** Active bookings and the latest finished ones, oldest first. */
  bookings: Booking[];
  /** Bookings whose open waits for the unlock in flight to finish. */
  queue: string[];
  /** The booking being unlocked now. */
  unlocking: string | null;
  last_report_at: number | null;
  missed_polls: number;
  /** When a device event last changed the cells: reports of polls sent before it are stale. */
  cells_changed_at: number;
  /** Door closures that overtook the answer of the unlock in flight: applied right after it. */
  closed_early: ClosedEarly[];
  /** Accumulators written off here: their cells hold them, but they are never booked. */
  written_off: string[];
}

export interface ClosedEarly {
  cell: number;
  accumulator_id: string | null;
  at: number;
}

export interface UnlockInput {
  cabinet_id: string;
  request_id: string;
  cells: number[];
  /** The booking's `reply_by`: the unlock must be answered by then, or not be sent at all. */
  reply_by?: number;
}

/** The device's answer, with the runtime time it arrived (machines never read a clock). */
export interface UnlockAnswer {
  request_id: string;
  opened: number[];
  failed: number[];
  at: number;
}

/** What the provided `unlockCells` rejects with. */
export interface UnlockFailure {
  code: "cabinet_not_responding" | "mqtt_unavailable";
  message: string;
  at: number;
}

const Id = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128));
/** Percent. */
const Charge = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 100 }));

// The events callers send (the routes decode their bodies with these schemas' fields); the
// runtime adds `at` and, on asks, `replyTo`.

/** Registers the cabinet at a place, or moves it there. */
export const RegisterEvent = Schema.Struct({
  type: Schema.Literal("register"),
  lat: Schema.Finite.check(Schema.isBetween({ minimum: -90, maximum: 90 })),
  lon: Schema.Finite.check(Schema.isBetween({ minimum: -180, maximum: 180 })),
});

/** Reserves `count` cells: charged accumulators to issue, or empty cells to return into. */
export const BookEvent = Schema.Struct({
  type: Schema.Literal("book"),
  booking_id: Id,
  kind: Schema.Literals(["issue", "return"]),
  count: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })),
  contractor_id: Id,
  /** issue: the least charge (%) an issued accumulator has. */
  min_charge: Charge,
  /** How long the booking holds its cells unopened. */
  ttl_ms: Schema.Int.check(Schema.isGreaterThan(0)),
});

/** Lets a booked booking's cells go. */
export const ReleaseEvent = Schema.Struct({ type: Schema.Literal("release"), booking_id: Id });

/** Unlocks a booking's cells (once; repeats answer from the record). */
export const OpenEvent = Schema.Struct({
  type: Schema.Literal("open"),
  booking_id: Id,
  /** Runtime-clock ms by which the caller needs the answer; an open still queued then is not sent. */
  reply_by: Schema.optional(Schema.Number),
});

/** Takes the cabinet out of service for good. */
export const DecommissionEvent = Schema.Struct({ type: Schema.Literal("decommission") });

/** Writes off the accumulator in one of its cells: refused while a booking holds it. */
export const WriteOffEvent = Schema.Struct({ type: Schema.Literal("write_off"), accumulator_id: Id });

export type CabinetEvent =
  | (Delivered & typeof RegisterEvent.Type)
  | (Delivered & typeof BookEvent.Type)
  | (Delivered & typeof ReleaseEvent.Type)
  | (Delivered & typeof OpenEvent.Type)
  | (Delivered & typeof DecommissionEvent.Type)
  | (Delivered & typeof WriteOffEvent.Type)
  | (Delivered & { type: "booking_expired"; booking_id: string })
  | (Delivered & { type: "inventory_reported"; polled_at: number; cells: ReportedCell[] })
  | (Delivered & { type: "poll_missed"; limit: number })
  | (Delivered & { type: "cell_closed"; cell: number; accumulator_id: string | null })
  | (Delivered & { type: "unlock_result_late"; request_id: string; opened: number[]; failed: number[] })
  | { type: "device_heard" }
  | { type: "xstate.done.actor.unlockCells"; output: UnlockAnswer }
  | { type: "xstate.error.actor.unlockCells"; error: unknown };

/** `book`'s reply. */
export interface BookingReply {
  booking_id: string;
  kind: BookingKind;
  contractor_id: string;
  cells: number[];
  accumulators: { cell: number; accumulator_id: string; charge: number | null }[];
  expires_at: number;
}

/** `open`'s reply; `moves` lets the caller apply the accumulator moves before it answers. */
export interface OpenReply {
  booking_id: string;
  kind: BookingKind;
  contractor_id: string;
  cells: OpenedCell[];
  failed: number[];
  opened_at: number;
  late: boolean;
  replayed: boolean;
  moves: AccumulatorMove[];
}

/** `write_off`'s reply: where the cabinet had it (`cell` null: not in its cells any more). */
export interface WriteOffReply {
  accumulator_id: string;
  cabinet_id: string;
  cell: number | null;
}

export type Connectivity = "online" | "unresponsive";

/** online / unresponsive from a registered cabinet's state value; undefined before registration. */
export function connectivityOf(value: StateValue): Connectivity | undefined {
  if (typeof value !== "object" || !("registered" in value)) return undefined;
  return (value.registered as { connectivity: Connectivity }).connectivity;
}

type Ev<T extends CabinetEvent["type"]> = Extract<CabinetEvent, { type: T }>;

export const bookingOf = (context: CabinetContext, id: string | null) => context.bookings.find((b) => b.booking_id === id);
const withBooking = (bookings: readonly Booking[], next: Booking) => trimBookings(bookings.map((b) => (b.booking_id === next.booking_id ? next : b)));
const expiryKey = (bookingId: string) => `expire:${bookingId}`;
/** Accumulators an issue booking must not take: promised to another booking, or written off. */
const unavailable = (context: CabinetContext) => new Set([...promisedAccumulators(context.bookings), ...context.written_off]);
const chooseCells = (context: CabinetContext, e: Ev<"book">) =>
  e.kind === "issue" ? cellsToIssue(context.cells, e.count, e.min_charge, unavailable(context), e.at) : cellsToReturn(context.cells, e.count, e.at);
/** What `unlockCells` rejected with, as far as it is an UnlockFailure. */
function unlockFailure(error: unknown): Partial<UnlockFailure> | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, at } = error as Record<string, unknown>;
  return {
    ...(code === "cabinet_not_responding" || code === "mqtt_unavailable" ? { code } : {}),
    ...(typeof at === "number" ? { at } : {}),
  };
}
/** Deterministic per attempt, so an unlock re-sent after a restart carries the same id. */
const nextRequestId = (b: Booking) => `${b.booking_id}.${b.request_ids.length + 1}`;

export function bookingReply(b: Booking, cells: readonly Cell[]): BookingReply {
  return {
    booking_id: b.booking_id,
    kind: b.kind,
    contractor_id: b.contractor_id,
    cells: b.cells,
    accumulators: b.reserved.flatMap((r) =>
      r.accumulator_id ? [{ cell: r.cell, accumulator_id: r.accumulator_id, charge: cells.find((c) => c.cell === r.cell)?.charge ?? null }] : [],
    ),
    expires_at: b.expires_at,
  };
}

export function openReply(cabinetId: string, b: Booking, replayed: boolean): OpenReply {
  const r = b.result!;
  // The same moves the unlock put in the outbox: a caller repeating them changes nothing.
  const moves: AccumulatorMove[] =
    b.kind === "issue"
      ? r.opened.flatMap((c) =>
          c.accumulator_id ? [locatedWithContractor(cabinetId, b.contractor_id, { cell: c.cell, accumulator_id: c.accumulator_id }, r.at)] : [],
        )
      : [];
  return {
    booking_id: b.booking_id,
    kind: b.kind,
    contractor_id: b.contractor_id,
    cells: r.opened,
    failed: r.failed,
    opened_at: r.at,
    late: r.late,
    replayed,
    moves,
  };
}

/** Records an applied unlock: the context patch and effects (accumulator moves, timer, answers to the waiting asks). */
function settle(context: CabinetContext, before: Booking, applied: Applied): { patch: Partial<CabinetContext>; effects: Effect[] } {
  const b = applied.booking;
  const effects: Effect[] = applied.moves.map((m) => tellActor(m.to, m.event));
  // issue is done once opened; return waits for its cells to close, for another TTL at most.
  effects.push(
    b.status === "opened"
      ? setTimer(expiryKey(b.booking_id), b.ttl_ms, { type: "booking_expired", booking_id: b.booking_id })
      : cancelTimer(expiryKey(b.booking_id)),
  );
  for (const w of before.waiting) effects.push(reply(w, openReply(context.id, b, false)));
  return {
    patch: {
      cells: applied.cells,
      bookings: withBooking(context.bookings, b),
      queue: context.queue.filter((id) => id !== b.booking_id),
      cells_changed_at: b.result!.at,
    },
    effects,
  };
}

export const cabinetMachine = setup({
  types: {
    context: {} as CabinetContext,
    events: {} as CabinetEvent,
    input: {} as { id: string },
    emitted: {} as Effect,
  },
  actors: {
    /** Publishes `unlock` to the device and waits for its `unlock_result` (or the command timeout). */
    unlockCells: fromPromise<UnlockAnswer, UnlockInput>(async () => {
      throw new Error("unlockCells is provided by the kind (services/cabinets/cabinetKind.ts)");
    }),
  },
  guards: {
    canReserve: ({ context, event }) => {
      assertEvent(event, "book");
      return bookingOf(context, event.booking_id) !== undefined || chooseCells(context, event) !== undefined;
    },
    missedTooMany: ({ context, event }) => {
      assertEvent(event, "poll_missed");
      return context.missed_polls + 1 >= event.limit;
    },
    hasQueued: ({ context }) => context.queue.length > 0,
    neverHeard: ({ context }) => context.last_report_at === null,
    /** Active bookings, or an unlock still under way (its booking may be settled by a late answer already). */
    inUse: ({ context }) => context.bookings.some(isActive) || context.unlocking !== null || context.queue.length > 0,
    /** Promised to a booking, or in a cell one holds: the technician may be on the way for it. */
    bookedAccumulator: ({ context, event }) => {
      assertEvent(event, "write_off");
      const id = event.accumulator_id;
      return promisedAccumulators(context.bookings).has(id) || context.cells.some((c) => c.accumulator_id === id && c.booking_id !== null);
    },
    closesUnlockingCell: ({ context, event }) => {
      assertEvent(event, "cell_closed");
      return bookingOf(context, context.unlocking)?.cells.includes(event.cell) ?? false;
    },
  },
  actions: {
    register: assign(({ event }) => {
      assertEvent(event, "register");
      return { lat: event.lat, lon: event.lon };
    }),
    replyRegistered: emit(({ context, event }) => {
      assertEvent(event, "register");
      return reply(event.replyTo, { cabinet_id: context.id, lat: context.lat, lon: context.lon, created: true });
    }),
    replyMoved: emit(({ context, event }) => {
      assertEvent(event, "register");
      return reply(event.replyTo, { cabinet_id: context.id, lat: context.lat, lon: context.lon, created: false });
    }),
    refuseUnknownCabinet: emit(({ context, event }) => {
      assertEvent(event, ["book", "open", "release", "decommission", "write_off"]);
      return replyError(event.replyTo, "not_found", `cabinet ${context.id} not found`);
    }),
    reserve: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "book");
      const existing = bookingOf(context, e.booking_id);
      if (existing) return void enqueue.emit(reply(e.replyTo, bookingReply(existing, context.cells)));
      const chosen = chooseCells(context, e)!;
      const booking: Booking = {
        booking_id: e.booking_id,
        kind: e.kind,
        contractor_id: e.contractor_id,
        cells: chosen.map((c) => c.cell),
        reserved: e.kind === "issue" ? chosen.map((c) => ({ cell: c.cell, accumulator_id: c.accumulator_id })) : [],
        ttl_ms: e.ttl_ms,
        created_at: e.at,
        expires_at: e.at + e.ttl_ms,
        status: "booked",
        request_ids: [],
        result: null,
        waiting: [],
        closed: [],
        ended_at: null,
      };
      const cells = holdCells(context.cells, booking.cells, booking.booking_id);
      enqueue.assign({ cells, bookings: trimBookings([...context.bookings, booking]) });
      enqueue.emit(setTimer(expiryKey(booking.booking_id), e.ttl_ms, { type: "booking_expired", booking_id: booking.booking_id }));
      enqueue.emit(reply(e.replyTo, bookingReply(booking, cells)));
    }),
    refuseBooking: emit(({ event: e }) => {
      assertEvent(e, "book");
      return e.kind === "issue"
        ? replyError(e.replyTo, "not_enough_accumulators", `fewer than ${e.count} unbooked accumulators charged ${e.min_charge}% or more`)
        : replyError(e.replyTo, "not_enough_empty_cells", `fewer than ${e.count} unbooked empty cells`);
    }),
    refuseUnheard: emit(({ context, event }) => {
      assertEvent(event, "book");
      return replyError(event.replyTo, "cabinet_unresponsive", `cabinet ${context.id} has not reported its cells yet`);
    }),
    refuseUnresponsive: emit(({ context, event }) => {
      assertEvent(event, "book");
      return replyError(event.replyTo, "cabinet_unresponsive", `cabinet ${context.id} has not answered its last polls`);
    }),
    release: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "release");
      const b = bookingOf(context, e.booking_id);
      if (!b) return void enqueue.emit(replyError(e.replyTo, "not_found", "booking not found"));
      if (b.status === "opening") return void enqueue.emit(replyError(e.replyTo, "booking_opening", "the booking's cells are being opened"));
      if (b.status === "opened" || b.status === "completed")
        return void enqueue.emit(replyError(e.replyTo, "booking_opened", "the booking's cells were already opened"));
      if (b.status === "booked") {
        enqueue.assign({
          cells: freeCellsOf(context.cells, b.booking_id),
          bookings: withBooking(context.bookings, { ...b, status: "released", ended_at: e.at }),
        });
        enqueue.emit(cancelTimer(expiryKey(b.booking_id)));
      }
      // Releasing twice, or after expiry, is the same outcome: the cells are not held.
      enqueue.emit(reply(e.replyTo, { booking_id: b.booking_id, status: b.status === "booked" ? "released" : b.status }));
    }),
    open: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "open");
      const b = bookingOf(context, e.booking_id);
      if (!b) return void enqueue.emit(replyError(e.replyTo, "not_found", "booking not found"));
      if (b.result) return void enqueue.emit(reply(e.replyTo, openReply(context.id, b, true)));
      if (b.status === "released" || b.status === "expired")
        return void enqueue.emit(replyError(e.replyTo, `booking_${b.status}`, `the booking was ${b.status}`));
      const waiting = e.replyTo ? [...b.waiting, e.replyTo] : b.waiting;
      if (b.status === "opening") {
        // Joins the unlock in flight: one command, every caller gets its answer (by the latest deadline).
        const reply_by = b.reply_by === undefined || e.reply_by === undefined ? undefined : Math.max(b.reply_by, e.reply_by);
        enqueue.assign({ bookings: withBooking(context.bookings, { ...b, waiting, reply_by }) });
      } else {
        const next: Booking = { ...b, status: "opening", waiting, reply_by: e.reply_by, request_ids: [...b.request_ids, nextRequestId(b)] };
        enqueue.assign({ bookings: withBooking(context.bookings, next), queue: [...context.queue, b.booking_id] });
      }
      enqueue.emit(deferReply(e.replyTo));
    }),
    expire: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "booking_expired");
      const b = bookingOf(context, e.booking_id);
      // An unlock in flight decides first; if it fails, the booking expires then if it is due.
      if (!b || (b.status !== "booked" && b.status !== "opened")) return;
      const status = b.status === "booked" ? "expired" : "completed";
      enqueue.assign({ cells: freeCellsOf(context.cells, b.booking_id), bookings: withBooking(context.bookings, { ...b, status, ended_at: e.at }) });
    }),
    holdClosure: assign(({ context, event: e }) => {
      assertEvent(e, "cell_closed");
      return { closed_early: [...context.closed_early, { cell: e.cell, accumulator_id: e.accumulator_id, at: e.at }] };
    }),
    // After the unlock answer: an issued accumulator is the contractor's, not missing; a returned one closes its booking.
    replayClosures: enqueueActions(({ context, enqueue }) => {
      for (const c of context.closed_early) enqueue.raise({ type: "cell_closed", ...c });
      enqueue.assign({ closed_early: [] });
    }),
    startNextUnlock: assign(({ context }) => ({ unlocking: context.queue[0]!, queue: context.queue.slice(1) })),
    unlocked: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, "xstate.done.actor.unlockCells");
      const answer = event.output;
      const b = bookingOf(context, context.unlocking);
      enqueue.assign({ unlocking: null });
      if (!b) return;
      if (b.result) {
        // A late answer to an earlier attempt was applied meanwhile: that record stands.
        for (const w of b.waiting) enqueue.emit(reply(w, openReply(context.id, b, true)));
        return void enqueue.assign({ bookings: withBooking(context.bookings, { ...b, waiting: [] }) });
      }
      const { patch, effects } = settle(context, b, applyUnlock(context.id, context.cells, b, answer, answer.at, false));
      enqueue.assign(patch);
      for (const effect of effects) enqueue.emit(effect);
    }),
    noAnswer: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, "xstate.error.actor.unlockCells");
      const failure = unlockFailure(event.error);
      const b = bookingOf(context, context.unlocking);
      enqueue.assign({ unlocking: null });
      if (!b) return;
      for (const w of b.waiting) {
        enqueue.emit(
          failure?.code === "mqtt_unavailable"
            ? replyError(w, "mqtt_unavailable", "the MQTT broker is not reachable; nothing was reassigned")
            : replyError(w, "cabinet_not_responding", `cabinet ${context.id} did not answer the unlock in time; nothing was reassigned`),
        );
      }
      if (b.result) return void enqueue.assign({ bookings: withBooking(context.bookings, { ...b, waiting: [] }) });
      // Nothing was reassigned and the booking stays usable, unless its time ran out meanwhile.
      const at = failure?.at ?? 0;
      if (at >= b.expires_at) {
        enqueue.assign({
          cells: freeCellsOf(context.cells, b.booking_id),
          bookings: withBooking(context.bookings, { ...b, status: "expired", waiting: [], ended_at: at }),
        });
      } else {
        enqueue.assign({ bookings: withBooking(context.bookings, { ...b, status: "booked", waiting: [] }) });
      }
    }),
    applyLateUnlock: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "unlock_result_late");
      const b = context.bookings.find((x) => x.request_ids.includes(e.request_id));
      if (!b || b.result || (b.status !== "booked" && b.status !== "opening")) return;
      // If this booking waits in the queue for another attempt, that attempt is no longer needed.
      const { patch, effects } = settle(context, b, applyUnlock(context.id, context.cells, b, e, e.at, true));
      enqueue.assign(patch);
      for (const effect of effects) enqueue.emit(effect);
    }),
    applyReport: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "inventory_reported");
      enqueue.assign({ last_report_at: e.at });
      // A report of a poll sent before the last device change, or while an unlock is under way,
      // may predate that change: it proves the cabinet alive, its cells are not taken. The poller
      // hears so, and tells the same cells again rather than take them for a repeat.
      const stale = e.polled_at < context.cells_changed_at || context.unlocking !== null || context.queue.length > 0;
      enqueue.emit(reply(e.replyTo, { applied: !stale }));
      if (stale) return;
      const { cells, moves } = applyInventory(context.id, context.cells, e.cells, e.at);
      enqueue.assign({ cells, bookings: followCells(context.bookings, cells, context.written_off) });
      for (const m of moves) enqueue.emit(tellActor(m.to, m.event));
    }),
    applyCellClosed: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "cell_closed");
      const { cells, moves } = applyCellClosed(context.id, context.cells, e.cell, e.accumulator_id, e.at);
      let next = cells;
      let bookings = context.bookings;
      const holder = bookings.find((b) => b.booking_id === context.cells.find((c) => c.cell === e.cell)?.booking_id);
      if (holder?.status === "opened" && holder.result?.opened.some((o) => o.cell === e.cell)) {
        // A returned accumulator is in: the cell is no longer held; the booking ends with its last cell.
        const closed = [...new Set([...holder.closed, e.cell])];
        const done = holder.result.opened.every((o) => closed.includes(o.cell));
        next = holdCells(next, [e.cell], null);
        bookings = withBooking(bookings, { ...holder, closed, status: done ? "completed" : "opened", ended_at: done ? e.at : null });
        if (done) enqueue.emit(cancelTimer(expiryKey(holder.booking_id)));
      }
      enqueue.assign({ cells: next, bookings: followCells(bookings, next, context.written_off), last_report_at: e.at, cells_changed_at: e.at });
      for (const m of moves) enqueue.emit(tellActor(m.to, m.event));
    }),
    refuseDecommission: emit(({ context, event }) => {
      assertEvent(event, "decommission");
      const active = context.bookings.filter(isActive).map((b) => b.booking_id);
      const what = active.length > 0 ? `active bookings (${active.join(", ")}): release them or let them end first` : "an unlock under way: try again shortly";
      return replyError(event.replyTo, "cabinet_in_use", `cabinet ${context.id} has ${what}`);
    }),
    // Its accumulators are not watched any more: unknown until a cabinet reports them again.
    decommission: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "decommission");
      for (const c of context.cells) {
        if (!c.accumulator_id) continue;
        const move = missingFromCabinet(context.id, c.accumulator_id, c.cell, e.at);
        enqueue.emit(tellActor(move.to, move.event));
      }
      enqueue.emit(reply(e.replyTo, { cabinet_id: context.id, decommissioned: true }));
    }),
    refuseWriteOff: emit(({ context, event }) => {
      assertEvent(event, "write_off");
      return replyError(
        event.replyTo,
        "accumulator_booked",
        `accumulator ${event.accumulator_id} is booked in cabinet ${context.id}: release the booking first`,
      );
    }),
    // The accumulator follows through the outbox, so the write-off holds even if the route dies now.
    writeOff: enqueueActions(({ context, event: e, enqueue }) => {
      assertEvent(e, "write_off");
      const cell = context.cells.find((c) => c.accumulator_id === e.accumulator_id)?.cell ?? null;
      // Kept also when not in its cells now: a later report may show it back in one.
      if (!context.written_off.includes(e.accumulator_id)) enqueue.assign({ written_off: [...context.written_off, e.accumulator_id] });
      enqueue.emit(tellActor(`accumulator/${e.accumulator_id}`, { type: "write_off", cabinet_id: context.id }));
      const value: WriteOffReply = { accumulator_id: e.accumulator_id, cabinet_id: context.id, cell };
      enqueue.emit(reply(e.replyTo, value));
    }),
    countMiss: assign(({ context }) => ({ missed_polls: context.missed_polls + 1 })),
    heard: assign({ missed_polls: 0 }),
  },
}).createMachine({
  id: "cabinet",
  context: ({ input }) => ({
    id: input.id,
    lat: 0,
    lon: 0,
    registered_at: 0,
    cells: [],
    bookings: [],
    queue: [],
    unlocking: null,
    last_report_at: null,
    missed_polls: 0,
    cells_changed_at: 0,
    closed_early: [],
    written_off: [],
  }),
  initial: "unregistered",
  states: {
    /** Every address exists; this cabinet has not been registered. */
    unregistered: {
      on: {
        register: { target: "registered", actions: ["register", assign({ registered_at: ({ event }) => event.at }), "replyRegistered"] },
        book: { actions: "refuseUnknownCabinet" },
        open: { actions: "refuseUnknownCabinet" },
        release: { actions: "refuseUnknownCabinet" },
        decommission: { actions: "refuseUnknownCabinet" },
        write_off: { actions: "refuseUnknownCabinet" },
      },
    },
    registered: {
      type: "parallel",
      on: {
        register: { actions: ["register", "replyMoved"] },
        release: { actions: "release" },
        open: { actions: "open" },
        booking_expired: { actions: "expire" },
        decommission: [
          { guard: "inUse", actions: "refuseDecommission" },
          { target: "decommissioned", actions: "decommission" },
        ],
        write_off: [{ guard: "bookedAccumulator", actions: "refuseWriteOff" }, { actions: "writeOff" }],
        // Anything the device says proves it alive: `device_heard` brings connectivity back.
        inventory_reported: { actions: ["applyReport", raise({ type: "device_heard" })] },
        cell_closed: { actions: ["applyCellClosed", raise({ type: "device_heard" })] },
        unlock_result_late: { actions: ["applyLateUnlock", raise({ type: "device_heard" })] },
      },
      states: {
        connectivity: {
          initial: "online",
          states: {
            online: {
              on: {
                // Never heard: its cells are unknown, so "not enough" would be a guess; 503 like a silent one.
                book: [{ guard: "neverHeard", actions: "refuseUnheard" }, { guard: "canReserve", actions: "reserve" }, { actions: "refuseBooking" }],
                poll_missed: [{ guard: "missedTooMany", target: "unresponsive", actions: "countMiss" }, { actions: "countMiss" }],
                device_heard: { actions: "heard" },
              },
            },
            unresponsive: {
              on: {
                book: { actions: "refuseUnresponsive" },
                poll_missed: { actions: "countMiss" },
                device_heard: { target: "online", actions: "heard" },
              },
            },
          },
        },
        command: {
          initial: "idle",
          states: {
            idle: { always: { guard: "hasQueued", target: "unlocking", actions: "startNextUnlock" } },
            unlocking: {
              on: { cell_closed: { guard: "closesUnlockingCell", actions: ["holdClosure", raise({ type: "device_heard" })] } },
              invoke: {
                id: "unlockCells",
                src: "unlockCells",
                input: ({ context }) => {
                  const b = bookingOf(context, context.unlocking)!;
                  return { cabinet_id: context.id, request_id: b.request_ids.at(-1)!, cells: b.cells, reply_by: b.reply_by };
                },
                onDone: { target: "idle", actions: ["unlocked", raise({ type: "device_heard" }), "replayClosures"] },
                onError: { target: "idle", actions: ["noAnswer", "replayClosures"] },
              },
            },
          },
        },
      },
    },
    /** Out of service for good: takes no events (its projection row is gone, polling stops). */
    decommissioned: { type: "final" },
  },
});
