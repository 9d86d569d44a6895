// cabinet/<id> as hosted by the runtime: the machine's unlock bound to the MQTT devices port, its
// `cabinets` projection and its public event.
import { fromPromise } from "xstate";
import { defineActorKind, type ActorKind, type ProjectedActor } from "../../actors/ActorKind.ts";
import {
  BookEvent,
  cabinetMachine,
  connectivityOf,
  DecommissionEvent,
  OpenEvent,
  RegisterEvent,
  ReleaseEvent,
  WriteOffEvent,
  type CabinetContext,
  type UnlockAnswer,
  type UnlockFailure,
  type UnlockInput,
} from "../../machines/cabinet.machine.ts";
import { isActive } from "../../machines/cabinetCells.ts";
import { deleteCabinetRows, upsertCabinetRows, type BookingRow, type CabinetRow } from "../../storage/cabinetRepository.ts";
import type { CabinetDevices } from "../../integrations/cabinet/index.ts";

const iso = (ms: number) => new Date(ms).toISOString();

/** The `cabinets` row of a registered cabinet; none before registration. */
export function cabinetRow({ value, context: c, at }: ProjectedActor<CabinetContext>): CabinetRow | undefined {
  const state = connectivityOf(value);
  if (!state) return undefined;
  const bookings: BookingRow[] = c.bookings.filter(isActive).map((b) => ({
    booking_id: b.booking_id,
    kind: b.kind,
    contractor_id: b.contractor_id,
    cells: b.cells,
    status: b.status,
    created_at: iso(b.created_at),
    expires_at: iso(b.expires_at),
  }));
  return {
    cabinet_id: c.id,
    lat: c.lat,
    lon: c.lon,
    state,
    // `open`: opened by an unlock and not yet reported closed.
    cells: c.cells.map((cell) => ({
      ...cell,
      open: cell.open_until !== null && cell.open_until > at,
      written_off: cell.accumulator_id !== null && c.written_off.includes(cell.accumulator_id),
    })),
    bookings,
    last_report_at: c.last_report_at === null ? null : new Date(c.last_report_at),
    registered_at: new Date(c.registered_at),
    updated_at: new Date(at),
  };
}

/**
 * How long the open's turn waits for the unlock's answer to share its commit. A device answers
 * within milliseconds; past this the open is committed in flight as `opening` (shown as such,
 * resumed after a crash) and the answer follows in a commit of its own.
 */
const OPEN_COMMIT_HOLD_MS = 250;

export function cabinetKind(deps: { devices: CabinetDevices; now: () => number }): ActorKind<CabinetContext> {
  const machine = cabinetMachine.provide({
    actors: {
      // Restarted with the same request id if the actor is restored mid-unlock; the device drops the repeat.
      unlockCells: fromPromise<UnlockAnswer, UnlockInput>(async ({ input, signal }) => {
        try {
          // Waited in the queue past its callers' deadline: they heard "not done", so nothing is sent.
          const left = input.reply_by === undefined ? undefined : input.reply_by - deps.now();
          if (left !== undefined && left <= 0) throw new Error("the open waited in the queue past its caller's deadline; nothing was sent");
          const result = await deps.devices.unlock(input.cabinet_id, input.request_id, input.cells, {
            signal,
            ...(left === undefined ? {} : { timeoutMs: left }),
          });
          return { request_id: result.request_id, opened: [...result.opened], failed: [...result.failed], at: deps.now() };
        } catch (error) {
          const code = (error as { code?: string }).code === "mqtt_unavailable" ? "mqtt_unavailable" : "cabinet_not_responding";
          const failure: UnlockFailure = { code, message: (error as Error).message ?? String(error), at: deps.now() };
          throw Object.assign(new Error(failure.message), failure);
        }
      }),
    },
  });
  return defineActorKind<CabinetContext>({
    type: "cabinet",
    machine,
    version: 3,
    // The open's turn and the unlock's answer land in one commit, not two in a row on the open's
    // path (nobody waits for the open's turn alone: its reply is the answer's). The unlock still
    // leaves at once, for a booking committed by its `book`; a crash before that commit loses
    // the open's turn, and the caller's retry sends the same request id again, which the device
    // answers as the first time (an open restored mid-unlock resends it likewise).
    commitAfterWorkMs: OPEN_COMMIT_HOLD_MS,
    events: [RegisterEvent, BookEvent, ReleaseEvent, OpenEvent, DecommissionEvent, WriteOffEvent],
    // 2: door closures that overtake an unlock answer are held in `closed_early`; 3: accumulators written off in `written_off`.
    migrate: (snapshot) => ({ ...snapshot, context: { closed_early: [], written_off: [], ...snapshot.context } }),
    project: (sql, actors, accepted) => [
      ...upsertCabinetRows(
        sql,
        actors.flatMap((a) => cabinetRow(a) ?? []),
        accepted,
      ),
      ...deleteCabinetRows(
        sql,
        actors.filter((a) => a.value === "decommissioned").map((a) => a.id),
        accepted,
      ),
    ],
    // `state` is the cabinet's connectivity; `command` says whether an unlock is under way.
    publicEvent: ({ value, context: c }) => {
      const registered = typeof value === "object" ? (value.registered as { command?: string } | undefined) : undefined;
      return {
        state: value === "decommissioned" ? value : (connectivityOf(value) ?? "unregistered"),
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
