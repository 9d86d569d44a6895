// accumulator/<id> as hosted by the runtime: no I/O of its own; its `accumulators` projection and
// its public event.
import { defineActorKind, type ActorKind } from "../../actors/ActorKind.ts";
import { accumulatorMachine, type AccumulatorContext } from "../../machines/accumulator.machine.ts";
import { projectAccumulators } from "../../storage/cabinetRepository.ts";

export function accumulatorKind(): ActorKind {
  return defineActorKind({
    type: "accumulator",
    machine: accumulatorMachine,
    version: 1,
    project: projectAccumulators,
    publicEvent: ({ context }) => {
      const { location: l, charge } = context as AccumulatorContext;
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
