// Cabinets: register (or move) one, list them with what can be booked, read one, decommission one.
import { Schema, Struct } from "effect";
import type { Server } from "hyper-express";
import { RegisterEvent } from "../../../machines/cabinet.machine.ts";
import { findCabinet, listAvailability } from "../../../storage/cabinetRepository.ts";
import { badRequest, conflict } from "../../errors.ts";
import { route } from "../../route.ts";
import { askCabinet, CabinetParams, type CabinetRouteDeps, cabinetView, prefix, requireCabinet, finalAs } from "./common.ts";

const Register = RegisterEvent.mapFields((fields) => Struct.omit(fields, ["type"]));
const ListQuery = Schema.Struct({
  min_charge: Schema.optional(Schema.NumberFromString.check(Schema.isBetween({ minimum: 0, maximum: 100 }))),
  lat: Schema.optional(Schema.NumberFromString.check(Schema.isBetween({ minimum: -90, maximum: 90 }))),
  lon: Schema.optional(Schema.NumberFromString.check(Schema.isBetween({ minimum: -180, maximum: 180 }))),
  limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1000 }))),
});

export function cabinetResourceRoutes(app: Server, deps: CabinetRouteDeps): void {
  const { system, sql, policy } = deps;

  route(app, deps, {
    method: "put",
    path: `${prefix}/cabinets/:cabinet_id`,
    role: "internal",
    doc: { summary: "Register a cabinet or move it", success: [200, 201], errors: [504] },
    params: CabinetParams,
    body: Register,
    handle: async ({ params, body }) => {
      const decommissioned = conflict("cabinet_decommissioned", `cabinet ${params.cabinet_id} was decommissioned; its id cannot be registered again`);
      const reply = await system
        .ask<{ created: boolean }>(`cabinet/${params.cabinet_id}`, { type: "register", lat: body.lat, lon: body.lon })
        .catch(finalAs(decommissioned));
      deps.registered(params.cabinet_id);
      return { status: reply.created ? 201 : 200, body: cabinetView((await findCabinet(sql, params.cabinet_id))!) };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/cabinets`,
    role: "internal",
    doc: { summary: "Cabinets with what can be booked now, nearest first when lat and lon are given" },
    query: ListQuery,
    handle: async ({ query }) => {
      if ((query.lat === undefined) !== (query.lon === undefined)) {
        const missing = query.lat === undefined ? "lat" : "lon";
        throw badRequest("invalid_request", `invalid query: query.${missing}`, { fields: [{ path: `query.${missing}`, message: "lat and lon go together" }] });
      }
      const minCharge = query.min_charge ?? policy.chargedMinCharge;
      const rows = await listAvailability(sql, {
        minCharge,
        ...(query.lat !== undefined && query.lon !== undefined ? { near: { lat: query.lat, lon: query.lon } } : {}),
        limit: query.limit ?? 50,
        at: deps.now(),
      });
      return {
        status: 200,
        body: {
          min_charge: minCharge,
          items: rows.map((r) => ({
            cabinet_id: r.cabinet_id,
            lat: r.lat,
            lon: r.lon,
            online: r.state === "online",
            charged_available: r.charged_available,
            empty_cells_available: r.empty_cells_available,
            last_report_at: r.last_report_at?.toISOString() ?? null,
            ...(r.distance_m === null ? {} : { distance_m: Math.round(r.distance_m) }),
          })),
        },
      };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/cabinets/:cabinet_id`,
    role: "internal",
    doc: { summary: "One cabinet and its cells", errors: [404] },
    params: CabinetParams,
    handle: async ({ params }) => ({ status: 200, body: cabinetView(await requireCabinet(sql, params.cabinet_id)) }),
  });

  // Out of service for good. Gone afterwards, as for an unknown id: a repeat is 404.
  route(app, deps, {
    method: "delete",
    path: `${prefix}/cabinets/:cabinet_id`,
    role: "internal",
    doc: { summary: "Decommission a cabinet; afterwards it is unknown (a repeat is 404)", success: [204], errors: [404, 409, 504] },
    params: CabinetParams,
    handle: async ({ params }) => {
      await requireCabinet(sql, params.cabinet_id);
      // Decommissioned meanwhile by a concurrent call: gone all the same (404).
      await askCabinet(system, params.cabinet_id, { type: "decommission" });
      return { status: 204, body: null };
    },
  });
}
