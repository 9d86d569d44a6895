// Accumulators: the swap in a scooter, one accumulator, its write-off, what a contractor holds.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import { InstallEvent, type InstallReply } from "../../../machines/accumulator.machine.ts";
import { findAccumulator, listContractorAccumulators, listScooterAccumulators } from "../../../storage/cabinetRepository.ts";
import { badRequest, conflict, notFound } from "../../errors.ts";
import { route } from "../../route.ts";
import { accumulatorView, applyMoves, type CabinetRouteDeps, Id, prefix, alreadyFinal, finalAs } from "./common.ts";

/** An `install` to the installed accumulator; the scooter comes from the path. */
const Swap = InstallEvent.mapFields((fields) => ({
  contractor_id: fields.contractor_id,
  installed_accumulator_id: fields.removed_accumulator_id,
  removed_accumulator_id: fields.removed_accumulator_id,
}));

export function accumulatorRoutes(app: Server, deps: CabinetRouteDeps): void {
  const { system, sql } = deps;

  route(app, deps, {
    method: "post",
    path: `${prefix}/scooters/:scooter_id/swap`,
    role: "internal",
    doc: { summary: "Swap a scooter's accumulator for one the contractor holds", errors: [409, 504] },
    params: Schema.Struct({ scooter_id: InstallEvent.fields.scooter_id }),
    body: Swap,
    idempotent: true,
    handle: async ({ params, body }) => {
      if (body.installed_accumulator_id === body.removed_accumulator_id) {
        throw badRequest("invalid_request", "invalid body: body.removed_accumulator_id", {
          fields: [{ path: "body.removed_accumulator_id", message: "the removed accumulator cannot be the one installed" }],
        });
      }
      await checkSwapPlaces(sql, params.scooter_id, body);
      const writtenOff = conflict("accumulator_written_off", `accumulator ${body.installed_accumulator_id} is written off: it is not installed again`);
      const reply = await system
        .ask<InstallReply>(`accumulator/${body.installed_accumulator_id}`, {
          type: "install",
          contractor_id: body.contractor_id,
          scooter_id: params.scooter_id,
          removed_accumulator_id: body.removed_accumulator_id,
        })
        .catch(finalAs(writtenOff));
      await applyMoves(system, [{ to: `accumulator/${reply.removed.accumulator_id}`, event: reply.removed.event }]);
      const [installed, removed] = await Promise.all([findAccumulator(sql, body.installed_accumulator_id), findAccumulator(sql, body.removed_accumulator_id)]);
      return { status: 200, body: { scooter_id: params.scooter_id, installed: accumulatorView(installed!), removed: accumulatorView(removed!) } };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/accumulators/:accumulator_id`,
    role: "internal",
    doc: { summary: "Where one accumulator is", errors: [404] },
    params: Schema.Struct({ accumulator_id: Id }),
    handle: async ({ params }) => {
      const row = await findAccumulator(sql, params.accumulator_id);
      if (!row) throw notFound("accumulator");
      return { status: 200, body: accumulatorView(row) };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/accumulators/:accumulator_id/write-off`,
    role: "internal",
    doc: { summary: "Write an accumulator off: out of service for good, never offered again", errors: [404, 409, 504] },
    params: Schema.Struct({ accumulator_id: Id }),
    idempotent: true,
    handle: async ({ params }) => {
      const id = params.accumulator_id;
      const row = await findAccumulator(sql, id);
      if (!row) throw notFound("accumulator");
      if (row.location !== "written_off") {
        // In a cabinet, the cabinet decides (it refuses a booked one and stops offering it) and
        // tells the accumulator through its outbox; told here too, so the answer reads it written off.
        const cabinet_id = row.location === "cabinet" ? row.cabinet_id! : undefined;
        if (cabinet_id) {
          const moved = conflict("accumulator_moved", `cabinet ${cabinet_id} was decommissioned meanwhile: try again`);
          await system.ask(`cabinet/${cabinet_id}`, { type: "write_off", accumulator_id: id }).catch(finalAs(moved));
        }
        // Already written off (by the cabinet's message, or a concurrent call): the outcome wanted.
        await system.ask(`accumulator/${id}`, { type: "write_off", ...(cabinet_id ? { cabinet_id } : {}) }).catch(alreadyFinal);
      }
      return { status: 200, body: accumulatorView((await findAccumulator(sql, id))!) };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/contractors/:contractor_id/accumulators`,
    role: "internal",
    doc: { summary: "The accumulators a contractor holds" },
    params: Schema.Struct({ contractor_id: Id }),
    handle: async ({ params }) => {
      const rows = await listContractorAccumulators(sql, params.contractor_id);
      return { status: 200, body: { contractor_id: params.contractor_id, items: rows.map(accumulatorView) } };
    },
  });
}

/**
 * Before a swap: the removed accumulator is in that scooter, known nowhere or written off (never in a cabinet
 * cell or with a technician), and the scooter holds no other one. A repeat of a swap that went
 * through (the installed one is in the scooter, put there by this contractor) passes as it is.
 */
async function checkSwapPlaces(
  sql: CabinetRouteDeps["sql"],
  scooterId: string,
  body: { contractor_id: string; installed_accumulator_id: string; removed_accumulator_id: string },
): Promise<void> {
  const [installed, removed, inScooter] = await Promise.all([
    findAccumulator(sql, body.installed_accumulator_id),
    findAccumulator(sql, body.removed_accumulator_id),
    listScooterAccumulators(sql, scooterId),
  ]);
  if (installed?.location === "scooter" && installed.scooter_id === scooterId && installed.contractor_id === body.contractor_id) return;
  // A written-off one may be taken out of a scooter (why it was written off); it stays written off.
  const removable = removed === undefined || removed.location === "unknown" || removed.location === "written_off";
  if (!removable && !(removed.location === "scooter" && removed.scooter_id === scooterId)) {
    throw conflict("removed_not_in_scooter", `accumulator ${body.removed_accumulator_id} is not in scooter ${scooterId}`, { location: removed.location });
  }
  const others = inScooter.filter((a) => a.accumulator_id !== body.removed_accumulator_id);
  if (others.length > 0) {
    throw conflict("scooter_holds_another", `scooter ${scooterId} holds ${others[0]!.accumulator_id}: swap that one out`, {
      accumulator_id: others[0]!.accumulator_id,
    });
  }
}
