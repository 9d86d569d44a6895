// Battery cabinets and accumulators (SPEC 3.1), role internal (the scooter backend), prefix
// /scooter-accumulator/v1. Writes go to the cabinet/<id> and accumulator/<id> actors; reads come
// from their projections (`cabinets`, `accumulators`), current as of the last commit.
import { randomUUID } from "node:crypto";
import { Schema } from "effect";
import type { Server } from "hyper-express";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { ActorRefusalError } from "../../actors/errors.ts";
import type { BookingReply, OpenReply } from "../../machines/cabinet.machine.ts";
import type { InstallReply } from "../../machines/accumulator.machine.ts";
import type { AccumulatorMove } from "../../machines/cabinetCells.ts";
import { CabinetId } from "../../integrations/cabinet/index.ts";
import {
  cabinetStats,
  findAccumulator,
  findCabinet,
  listAvailability,
  listContractorAccumulators,
  type AccumulatorRow,
  type CabinetRow,
} from "../../storage/cabinetRepository.ts";
import type { Sql } from "../../storage/database.ts";
import { badRequest, HttpError, notFound } from "../errors.ts";
import { route, type RouteDeps } from "../route.ts";

const prefix = "/scooter-accumulator/v1";

export interface CabinetPolicy {
  bookingTtlMs: number;
  commandTimeoutMs: number;
  /** Charge (%) that counts as charged when a request names none. */
  chargedMinCharge: number;
}

export interface CabinetRouteDeps extends RouteDeps {
  system: ActorSystem;
  sql: Sql;
  policy: CabinetPolicy;
  /** A cabinet was registered here: poll it without waiting for the next refresh. */
  registered(cabinetId: string): void;
}

const Id = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128));
const Charge = Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 100 }));
const ChargeParam = Schema.NumberFromString.check(Schema.isBetween({ minimum: 0, maximum: 100 }));
const Lat = Schema.Number.check(Schema.isBetween({ minimum: -90, maximum: 90 }));
const Lon = Schema.Number.check(Schema.isBetween({ minimum: -180, maximum: 180 }));

const CabinetParams = Schema.Struct({ cabinet_id: CabinetId });
const BookingParams = Schema.Struct({ cabinet_id: CabinetId, booking_id: Id });
const Register = Schema.Struct({ lat: Lat, lon: Lon });
const ListQuery = Schema.Struct({
  min_charge: Schema.optional(ChargeParam),
  lat: Schema.optional(Schema.NumberFromString.check(Schema.isBetween({ minimum: -90, maximum: 90 }))),
  lon: Schema.optional(Schema.NumberFromString.check(Schema.isBetween({ minimum: -180, maximum: 180 }))),
  limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1000 }))),
});
const Book = Schema.Struct({
  kind: Schema.Literals(["issue", "return"]),
  count: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })),
  contractor_id: Id,
  min_charge: Schema.optional(Charge),
});
const Swap = Schema.Struct({ contractor_id: Id, installed_accumulator_id: Id, removed_accumulator_id: Id });

const iso = (ms: number) => new Date(ms).toISOString();

export const cabinetView = (c: CabinetRow) => ({
  cabinet_id: c.cabinet_id,
  lat: c.lat,
  lon: c.lon,
  online: c.state === "online",
  state: c.state,
  last_report_at: c.last_report_at?.toISOString() ?? null,
  registered_at: c.registered_at.toISOString(),
  cells: c.cells,
  bookings: c.bookings,
});

export const accumulatorView = (a: AccumulatorRow) => ({
  accumulator_id: a.accumulator_id,
  location: a.location,
  cabinet_id: a.cabinet_id,
  cell: a.cell,
  contractor_id: a.contractor_id,
  scooter_id: a.scooter_id,
  charge: a.charge,
  taken_from: a.from_cabinet_id === null ? null : { cabinet_id: a.from_cabinet_id, cell: a.from_cell },
  updated_at: a.updated_at.toISOString(),
});

/** Cabinet refusals that are not conflicts: an unresponsive cabinet or a device that did not answer. */
function mapCabinetRefusal(error: unknown): never {
  if (error instanceof ActorRefusalError) {
    if (error.code === "cabinet_unresponsive" || error.code === "mqtt_unavailable") throw new HttpError(503, error.code, error.message);
    if (error.code === "cabinet_not_responding") throw new HttpError(504, error.code, error.message);
  }
  throw error;
}

export function cabinetRoutes(app: Server, deps: CabinetRouteDeps): void {
  const { system, sql, policy } = deps;
  const requireCabinet = async (id: string) => {
    const cabinet = await findCabinet(sql, id);
    if (!cabinet) throw notFound("cabinet");
    return cabinet;
  };
  // Moves the cabinet already put in its outbox, applied now too so the answer reads consistently
  // (a swap right after an open finds the accumulators with the contractor). Repeats are no-ops.
  const applyMoves = (moves: readonly AccumulatorMove[]) => Promise.all(moves.map((m) => system.tell(m.to, m.event, { timeoutMs: 5_000 })));

  route(app, deps, {
    method: "put",
    path: `${prefix}/cabinets/:cabinet_id`,
    role: "internal",
    params: CabinetParams,
    body: Register,
    handle: async ({ params, body }) => {
      const reply = await system.ask<{ created: boolean }>(`cabinet/${params.cabinet_id}`, { type: "register", lat: body.lat, lon: body.lon });
      deps.registered(params.cabinet_id);
      return { status: reply.created ? 201 : 200, body: cabinetView((await findCabinet(sql, params.cabinet_id))!) };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/cabinets`,
    role: "internal",
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
    params: CabinetParams,
    handle: async ({ params }) => ({ status: 200, body: cabinetView(await requireCabinet(params.cabinet_id)) }),
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/cabinets/:cabinet_id/bookings`,
    role: "internal",
    params: CabinetParams,
    body: Book,
    idempotent: true,
    handle: async ({ params, body }) => {
      await requireCabinet(params.cabinet_id);
      const reply = await system
        .ask<BookingReply>(`cabinet/${params.cabinet_id}`, {
          type: "book",
          booking_id: randomUUID(),
          kind: body.kind,
          count: body.count,
          contractor_id: body.contractor_id,
          min_charge: body.min_charge ?? policy.chargedMinCharge,
          ttl_ms: policy.bookingTtlMs,
        })
        .catch(mapCabinetRefusal);
      return { status: 201, body: { cabinet_id: params.cabinet_id, ...reply, expires_at: iso(reply.expires_at) } };
    },
  });

  route(app, deps, {
    method: "delete",
    path: `${prefix}/cabinets/:cabinet_id/bookings/:booking_id`,
    role: "internal",
    params: BookingParams,
    handle: async ({ params }) => {
      await requireCabinet(params.cabinet_id);
      const reply = await system.ask<{ booking_id: string; status: string }>(`cabinet/${params.cabinet_id}`, {
        type: "release",
        booking_id: params.booking_id,
      });
      return { status: 200, body: reply };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/cabinets/:cabinet_id/bookings/:booking_id/open`,
    role: "internal",
    params: BookingParams,
    idempotent: true,
    handle: async ({ params }) => {
      await requireCabinet(params.cabinet_id);
      // Room for one unlock queued ahead of this one, then this one's own command timeout.
      const timeoutMs = 2 * policy.commandTimeoutMs + 2_000;
      const reply = await system
        .ask<OpenReply>(`cabinet/${params.cabinet_id}`, { type: "open", booking_id: params.booking_id }, { timeoutMs })
        .catch(mapCabinetRefusal);
      await applyMoves(reply.moves);
      const { moves: _moves, opened_at, ...rest } = reply;
      return { status: 200, body: { cabinet_id: params.cabinet_id, ...rest, opened_at: iso(opened_at) } };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/scooters/:scooter_id/swap`,
    role: "internal",
    params: Schema.Struct({ scooter_id: Id }),
    body: Swap,
    idempotent: true,
    handle: async ({ params, body }) => {
      if (body.installed_accumulator_id === body.removed_accumulator_id) {
        throw badRequest("invalid_request", "invalid body: body.removed_accumulator_id", {
          fields: [{ path: "body.removed_accumulator_id", message: "the removed accumulator cannot be the one installed" }],
        });
      }
      const reply = await system.ask<InstallReply>(`accumulator/${body.installed_accumulator_id}`, {
        type: "install",
        contractor_id: body.contractor_id,
        scooter_id: params.scooter_id,
        removed_accumulator_id: body.removed_accumulator_id,
      });
      await applyMoves([{ to: `accumulator/${reply.removed.accumulator_id}`, event: reply.removed.event }]);
      const [installed, removed] = await Promise.all([findAccumulator(sql, body.installed_accumulator_id), findAccumulator(sql, body.removed_accumulator_id)]);
      return { status: 200, body: { scooter_id: params.scooter_id, installed: accumulatorView(installed!), removed: accumulatorView(removed!) } };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/accumulators/:accumulator_id`,
    role: "internal",
    params: Schema.Struct({ accumulator_id: Id }),
    handle: async ({ params }) => {
      const row = await findAccumulator(sql, params.accumulator_id);
      if (!row) throw notFound("accumulator");
      return { status: 200, body: accumulatorView(row) };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/contractors/:contractor_id/accumulators`,
    role: "internal",
    params: Schema.Struct({ contractor_id: Id }),
    handle: async ({ params }) => {
      const rows = await listContractorAccumulators(sql, params.contractor_id);
      return { status: 200, body: { contractor_id: params.contractor_id, items: rows.map(accumulatorView) } };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/stats`,
    role: "internal",
    handle: async () => {
      const stats = await cabinetStats(sql, policy.chargedMinCharge);
      const locations = Object.fromEntries(
        ["cabinet", "contractor", "scooter", "unknown"].map((l) => [l, stats.by_location.find((x) => x.location === l)?.count ?? 0]),
      );
      return {
        status: 200,
        body: {
          accumulators: { ...locations, total: Object.values(locations).reduce((a, b) => a + b, 0) },
          charge_histogram: Array.from({ length: 10 }, (_, i) => ({
            from: i * 10,
            to: i * 10 + 10,
            count: stats.charge_histogram.find((h) => h.bucket === i)?.count ?? 0,
          })),
          charged_min_charge: policy.chargedMinCharge,
          cabinets: stats.cabinets.map((c) => ({ ...c, online: c.state === "online" })),
        },
      };
    },
  });
}
