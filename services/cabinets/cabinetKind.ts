// cabinet/<id> as hosted by the runtime: the machine's unlock bound to the MQTT devices port, its
// `cabinets` projection and its public event.
import { fromPromise } from "xstate";
import { defineActorKind, type ActorKind } from "../../actors/ActorKind.ts";
import { cabinetMachine, type CabinetContext, type UnlockAnswer, type UnlockFailure, type UnlockInput } from "../../machines/cabinet.machine.ts";
import { isActive } from "../../machines/cabinetCells.ts";
import { connectivityOf, projectCabinets } from "../../storage/cabinetRepository.ts";
import type { CabinetDevices } from "../../integrations/cabinet/index.ts";

export function cabinetKind(deps: { devices: CabinetDevices; now: () => number }): ActorKind {
  const machine = cabinetMachine.provide({
    actors: {
      // Restarted with the same request id if the actor is restored mid-unlock; the device drops the repeat.
      unlockCells: fromPromise<UnlockAnswer, UnlockInput>(async ({ input, signal }) => {
        try {
          const result = await deps.devices.unlock(input.cabinet_id, input.request_id, input.cells, { signal });
          return { request_id: result.request_id, opened: [...result.opened], failed: [...result.failed], at: deps.now() };
        } catch (error) {
          const code = (error as { code?: string }).code === "mqtt_unavailable" ? "mqtt_unavailable" : "cabinet_not_responding";
          const failure: UnlockFailure = { code, message: (error as Error).message ?? String(error), at: deps.now() };
          throw Object.assign(new Error(failure.message), failure);
        }
      }),
    },
  });
  return defineActorKind({
    type: "cabinet",
    machine,
    version: 2,
    // 2: door closures that overtake an unlock answer are held in `closed_early`.
    migrate: (snapshot) => ({ ...snapshot, context: { closed_early: [], ...snapshot.context } }),
    project: projectCabinets,
    // `state` is the cabinet's connectivity; `command` says whether an unlock is under way.
    publicEvent: ({ value, context }) => {
      const c = context as CabinetContext;
      const registered = (value as { registered?: { command?: string } }).registered;
      return {
        state: connectivityOf(value) ?? "unregistered",
        command: registered?.command ?? "idle",
        cells: c.cells.length,
        accumulators: c.cells.filter((x) => x.accumulator_id).length,
        empty_cells: c.cells.filter((x) => !x.accumulator_id).length,
        booked_cells: c.cells.filter((x) => x.booking_id).length,
        active_bookings: c.bookings.filter(isActive).length,
        last_report_at: c.last_report_at === null ? null : new Date(c.last_report_at).toISOString(),
      };
    },
  });
}
