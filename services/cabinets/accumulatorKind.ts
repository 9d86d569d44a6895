// accumulator/<id> as hosted by the runtime: no I/O of its own; its `accumulators` projection and
// its public event.
import { defineActorKind, type ActorKind, type ProjectedActor } from "../../actors/ActorKind.ts";
import type { StateValue } from "xstate";
import { accumulatorMachine, type AccumulatorContext, type Location, InstallEvent, WriteOffEvent } from "../../machines/accumulator.machine.ts";
import { upsertAccumulatorRows, type AccumulatorRow } from "../../storage/cabinetRepository.ts";

/** Written off: no place any more (its last one stays in the actor's context and journal). */
const placeOf = (value: StateValue, location: Location | null) => (value === "written_off" ? null : location);

/** The `accumulators` row; an accumulator never located (still `absent`) has none. */
export function accumulatorRow({ value, context: c, at }: ProjectedActor<AccumulatorContext>): AccumulatorRow | undefined {
  if (value === "absent") return undefined;
  const l = placeOf(value, c.location);
  const from = l?.kind === "contractor" && l.from && "cabinet_id" in l.from ? l.from : null;
  return {
    accumulator_id: c.id,
    location: value === "written_off" ? "written_off" : (l?.kind ?? "unknown"),
    contractor_id: l?.kind === "contractor" || l?.kind === "scooter" ? l.contractor_id : null,
    cabinet_id: l?.kind === "cabinet" ? l.cabinet_id : null,
    cell: l?.kind === "cabinet" ? l.cell : null,
    scooter_id: l?.kind === "scooter" ? l.scooter_id : null,
    charge: c.charge,
    from_cabinet_id: from?.cabinet_id ?? null,
    from_cell: from?.cell ?? null,
    updated_at: new Date(c.updated_at || at),
  };
}

export function accumulatorKind(): ActorKind<AccumulatorContext> {
  return defineActorKind<AccumulatorContext>({
    type: "accumulator",
    events: [InstallEvent, WriteOffEvent],
    machine: accumulatorMachine,
    version: 1,
    project: (sql, actors, accepted) =>
      upsertAccumulatorRows(
        sql,
        actors.flatMap((a) => accumulatorRow(a) ?? []),
        accepted,
      ),
    publicEvent: ({ value, context: { location, charge } }) => {
      const l = placeOf(value, location);
      return {
        cabinet_id: l?.kind === "cabinet" ? l.cabinet_id : null,
        cell: l?.kind === "cabinet" ? l.cell : null,
        contractor_id: l?.kind === "contractor" || l?.kind === "scooter" ? l.contractor_id : null,
        scooter_id: l?.kind === "scooter" ? l.scooter_id : null,
        charge,
      };
    },
  });
}
