// accumulator/<id>: where one scooter battery is and its last known charge. The cabinet actors
// (authority for their cells) and the swap route move it; every move carries a `stamp` (the
// runtime time of the turn that decided it) so a stale or redelivered move never overwrites a
// newer one. Written off is final: out of service for good, it takes no moves any more. A stale
// or repeated move matches no transition, so the runtime refuses it (its sender, a tell, takes that
// as delivered) without a turn or a commit: the open route repeats the moves the cabinet's outbox
// delivers at the same moment, and the repeat waits for that commit instead of adding one.
import { Schema } from "effect";
import { assertEvent, assign, emit, setup } from "xstate";
import { reply, replyError, tellActor, type Delivered, type Effect } from "../actors/protocol.ts";

/** Where a move puts the accumulator. */
export type Location =
  | { kind: "cabinet"; cabinet_id: string; cell: number; charge: number | null }
  | { kind: "contractor"; contractor_id: string; from: { cabinet_id: string; cell: number } | { scooter_id: string } | null }
  | { kind: "scooter"; scooter_id: string; contractor_id: string };

export interface AccumulatorContext {
  id: string;
  location: Location | null;
  charge: number | null;
  /** Stamp of the move that put it where it is; 0 before the first. */
  stamp: number;
  /** Runtime time of the last change (the projection's `updated_at`). */
  updated_at: number;
}

export type LocatedEvent = { type: "located"; stamp: number; location: Location };
export type MissingEvent = { type: "missing"; stamp: number; cabinet_id: string; cell: number };

const Id = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128));

/**
 * A swap (the route decodes its body with these fields): `contractor_id` installs this
 * accumulator in `scooter_id`, taking `removed_accumulator_id` out.
 */
export const InstallEvent = Schema.Struct({
  type: Schema.Literal("install"),
  contractor_id: Id,
  scooter_id: Id,
  removed_accumulator_id: Id,
});

/**
 * Takes it out of service for good. One in a cabinet is written off through that cabinet (which
 * refuses a booked one and stops offering it), which names itself in `cabinet_id`.
 */
export const WriteOffEvent = Schema.Struct({ type: Schema.Literal("write_off"), cabinet_id: Schema.optional(Id) });

export type AccumulatorEvent =
  | (Delivered & LocatedEvent)
  | (Delivered & MissingEvent)
  | (Delivered & typeof InstallEvent.Type)
  | (Delivered & typeof WriteOffEvent.Type);

/** What the swap route gets back from `install`, and what it repeats to the removed one. */
export interface InstallReply {
  accumulator_id: string;
  scooter_id: string;
  contractor_id: string;
  stamp: number;
  removed: { accumulator_id: string; event: LocatedEvent };
}

const sameLocation = (a: Location | null, b: Location) => JSON.stringify(a) === JSON.stringify(b);

/** Newer stamps win; an equal stamp with the same location is a repeat and changes nothing. */
export const isNewerMove = (context: AccumulatorContext, stamp: number, location: Location): boolean =>
  stamp > context.stamp || (stamp === context.stamp && !sameLocation(context.location, location));

/** The move the removed accumulator gets in a swap: from the scooter to the contractor. */
export const removedMove = (scooterId: string, contractorId: string, stamp: number): LocatedEvent => ({
  type: "located",
  stamp,
  location: { kind: "contractor", contractor_id: contractorId, from: { scooter_id: scooterId } },
});

/**
 * A move to a contractor "from a scooter" (the removed one of a swap) applies only to an
 * accumulator in that scooter or not known anywhere: never one in a cabinet cell or another's hands.
 */
const takenFromWhereItIs = (context: AccumulatorContext, event: AccumulatorEvent): boolean => {
  if (event.type !== "located" || event.location.kind !== "contractor") return true;
  const from = event.location.from;
  if (from === null || !("scooter_id" in from)) return true;
  return context.location === null || (context.location.kind === "scooter" && context.location.scooter_id === from.scooter_id);
};

const locatedAs =
  (kind: Location["kind"]) =>
  ({ context, event }: { context: AccumulatorContext; event: AccumulatorEvent }) =>
    event.type === "located" && event.location.kind === kind && isNewerMove(context, event.stamp, event.location);

export const accumulatorMachine = setup({
  types: {
    context: {} as AccumulatorContext,
    events: {} as AccumulatorEvent,
    input: {} as { id: string },
    emitted: {} as Effect,
  },
  guards: {
    toCabinet: locatedAs("cabinet"),
    toContractor: (args) => locatedAs("contractor")(args) && takenFromWhereItIs(args.context, args.event),
    toScooter: locatedAs("scooter"),
    /** Only the cabinet (and cell) it is in may report it missing. */
    missingFromHere: ({ context, event }) => {
      if (event.type !== "missing" || event.stamp < context.stamp) return false;
      const l = context.location;
      return l?.kind === "cabinet" && l.cabinet_id === event.cabinet_id && l.cell === event.cell;
    },
    /** Not in a cabinet, or written off by the cabinet it is in. */
    writableOffHere: ({ context, event }) =>
      event.type === "write_off" && (context.location?.kind !== "cabinet" || context.location.cabinet_id === event.cabinet_id),
    heldByInstaller: ({ context, event }) =>
      event.type === "install" && context.location?.kind === "contractor" && context.location.contractor_id === event.contractor_id,
    /** The same swap repeated (a lost answer): it is already in that scooter, put there by that contractor. */
    installedBySameSwap: ({ context, event }) =>
      event.type === "install" &&
      context.location?.kind === "scooter" &&
      context.location.scooter_id === event.scooter_id &&
      context.location.contractor_id === event.contractor_id,
  },
  actions: {
    // A stale or repeated move is accepted and changes nothing. Accepted, not rejected: its sender
    // is answered only after this actor's pending commit (of the first copy) has landed.
    move: assign(({ context, event: e }) => {
      assertEvent(e, "located");
      const charge = e.location.kind === "cabinet" && e.location.charge !== null ? e.location.charge : context.charge;
      return { location: e.location, stamp: e.stamp, charge, updated_at: e.at };
    }),
    lose: assign(({ event }) => {
      assertEvent(event, "missing");
      return { location: null, stamp: event.stamp, updated_at: event.at };
    }),
    install: assign(({ event: e }) => {
      assertEvent(e, "install");
      return { location: { kind: "scooter", scooter_id: e.scooter_id, contractor_id: e.contractor_id }, stamp: e.at, updated_at: e.at } as const;
    }),
    // The removed one follows through the outbox, so the swap holds even if the route dies now.
    moveRemovedToContractor: emit(({ event: e }) => {
      assertEvent(e, "install");
      return tellActor(`accumulator/${e.removed_accumulator_id}`, removedMove(e.scooter_id, e.contractor_id, e.at));
    }),
    replyInstalled: emit(({ context, event: e }) => {
      assertEvent(e, "install");
      const value: InstallReply = {
        accumulator_id: context.id,
        scooter_id: e.scooter_id,
        contractor_id: e.contractor_id,
        stamp: context.stamp,
        removed: { accumulator_id: e.removed_accumulator_id, event: removedMove(e.scooter_id, e.contractor_id, context.stamp) },
      };
      return reply(e.replyTo, value);
    }),
    writeOff: assign(({ event }) => ({ updated_at: event.at })),
    refuseWriteOff: emit(({ context, event }) => {
      assertEvent(event, "write_off");
      const where = context.location?.kind === "cabinet" ? context.location.cabinet_id : "a cabinet";
      return replyError(event.replyTo, "accumulator_moved", `accumulator ${context.id} is in ${where} now: try again, it is written off through that cabinet`);
    }),
    refuseInstall: emit(({ context, event }) => {
      assertEvent(event, "install");
      return replyError(event.replyTo, "not_held_by_contractor", `accumulator ${context.id} is not held by contractor ${event.contractor_id}`);
    }),
  },
}).createMachine({
  id: "accumulator",
  context: ({ input }) => ({ id: input.id, location: null, charge: null, stamp: 0, updated_at: 0 }),
  initial: "absent",
  on: {
    located: [
      { guard: "toCabinet", target: ".in_cabinet", actions: "move" },
      { guard: "toContractor", target: ".with_contractor", actions: "move" },
      { guard: "toScooter", target: ".in_scooter", actions: "move" },
    ],
    missing: { guard: "missingFromHere", target: ".unknown", actions: "lose" },
    install: { actions: "refuseInstall" },
    write_off: [{ guard: "writableOffHere", target: ".written_off", actions: "writeOff" }, { actions: "refuseWriteOff" }],
  },
  states: {
    /** Never located: every address exists, this one has not been seen yet. */
    absent: {},
    in_cabinet: {},
    with_contractor: {
      on: {
        install: [
          { guard: "heldByInstaller", target: "in_scooter", actions: ["install", "moveRemovedToContractor", "replyInstalled"] },
          { actions: "refuseInstall" },
        ],
      },
    },
    in_scooter: {
      on: { install: [{ guard: "installedBySameSwap", actions: "replyInstalled" }, { actions: "refuseInstall" }] },
    },
    /** Reported missing by the cabinet it was in; the next report of it places it again. */
    unknown: {},
    /** Out of service for good; the context keeps where it was last known. Takes no events. */
    written_off: { type: "final" },
  },
});
