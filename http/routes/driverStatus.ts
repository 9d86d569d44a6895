// Driver statuses to KRT (SPEC 3.2): the driver's KRT id (role driver), incremental feeds of ids
// and session statuses, and "may this driver take orders now" (role internal).
//
// - GET never returns the raw KRT id, only whether there is one.
// - POST checks the id against the driver's licence in KRT before binding it: 400 bad format,
//   409 `id_license_mismatch`, 503 `krt_unavailable` (down, too slow, or refusing our
//   credentials), 422 `krt_refused` (KRT refused the check), 502 `krt_protocol`.
// - Feeds: `cursor` absent is a full load; following the returned cursor never misses a change,
//   also when writers commit out of order (storage/driverStatusRepository.ts). `limit` counts
//   persons; each is listed once per park profile of his (profiles unknown to driver-profiles
//   are left out until they appear there).
// - can-take-orders: inside a configured region (by the driver's last position) only with a KRT
//   id and an open KRT shift; outside them, or with no known position, always. `region` says
//   which region applied (null: none); trackstory down is 503, too slow 504.
import { driverKey } from "../../integrations/driverKey.ts";
import { Schema, Struct } from "effect";
import type { Server } from "hyper-express";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import type { Krt } from "../../integrations/krt/index.ts";
import { PartnerProtocolError, PartnerRejectedError, PartnerTimeoutError } from "../../integrations/errors.ts";
import { BindEvent } from "../../machines/krtSession.machine.ts";
import type { Personal } from "../../integrations/personal/index.ts";
import type { DriverProfilesCache } from "../../integrations/driverProfiles/index.ts";
import type { Trackstory } from "../../integrations/trackstory/index.ts";
import { refusals, regionOfDriver } from "../../services/driverStatus/canTakeOrders.ts";
import { findDriverStatus, profileChanges, sessionChanges, startOfFeed, type DriverStatusRow, type FeedCursor } from "../../storage/driverStatusRepository.ts";
import type { Sql } from "../../storage/database.ts";
import { badRequest, conflict, HttpError, notFound } from "../errors.ts";
import { route, type Identity, type RouteDeps } from "../route.ts";

const idPath = "/driver/v1/deptrans-status/v1/id";

/** The bind event's payload, as the driver posts it. */
const BindBody = BindEvent.mapFields(Struct.pick(["deptrans_id"]));
const FeedQuery = Schema.Struct({
  cursor: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1000 }))),
});
const DriverParams = Schema.Struct({ park_id: Schema.NonEmptyString, driver_id: Schema.NonEmptyString });

type Driver = Extract<Identity, { role: "driver" }>;

export interface DriverStatusRouteDeps extends RouteDeps {
  system: ActorSystem;
  sql: Sql;
  profiles: DriverProfilesCache;
  personal: Personal;
  krt: Krt;
  trackstory: Trackstory;
  /** STATUS_REGIONS: where a driver needs a KRT id and an open shift to take orders. */
  regions: ReadonlySet<string>;
  now: () => number;
  /** Stage 2: consumers block drivers who may not take orders; stage 1 only shows it. */
  blocking: boolean;
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

const sessionView = (row: DriverStatusRow) => (row.session ? { status: row.session.status, ended_at: iso(row.session.ended_at) } : null);

function encodeCursor(c: FeedCursor): string {
  return Buffer.from(`${c.xid}.${c.seq}`).toString("base64url");
}

function decodeCursor(cursor: string | undefined): FeedCursor {
  if (cursor === undefined || cursor === "") return startOfFeed;
  const m = /^(\d{1,20})\.(\d{1,19})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m)
    throw badRequest("invalid_request", "invalid query: query.cursor", { fields: [{ path: "query.cursor", message: "not a cursor returned by this route" }] });
  return { xid: m[1]!, seq: m[2]! };
}

export function driverStatusRoutes(app: Server, deps: DriverStatusRouteDeps): void {
  /** The person behind the caller's profile; 503 until the profiles cache has been filled once. */
  async function licenceOf(parkId: string, driverId: string): Promise<string> {
    const licence = deps.profiles.licenceOf(driverKey(parkId, driverId));
    if (licence !== undefined) return licence;
    await deps.profiles.cache.check().catch((error: unknown) => {
      throw new HttpError(503, "driver_profiles_unavailable", (error as Error).message);
    });
    throw notFound("driver profile");
  }

  route(app, deps, {
    method: "get",
    path: idPath,
    role: "driver",
    handle: async ({ identity }) => {
      const { park_id, driver_id } = identity as Driver;
      const row = await findDriverStatus(deps.sql, await licenceOf(park_id, driver_id));
      return { status: 200, body: { bound: row.deptrans_id !== null, session: sessionView(row) } };
    },
  });

  route(app, deps, {
    method: "post",
    path: idPath,
    role: "driver",
    body: BindBody,
    idempotent: true,
    handle: async ({ identity, body }) => {
      const { park_id, driver_id } = identity as Driver;
      const licence = await licenceOf(park_id, driver_id);
      const driverLicense = await deps.personal.retrieve("driver_licenses", licence);
      if (driverLicense === undefined) throw notFound("driver licence");
      if (!(await checkIdAtKrt(deps.krt, body.deptrans_id, driverLicense))) {
        throw conflict("id_license_mismatch", "KRT knows this id under another driver licence");
      }
      await deps.system.ask(`krt-session/${licence}`, { type: "bind", deptrans_id: body.deptrans_id } satisfies BindEvent);
      const row = await findDriverStatus(deps.sql, licence);
      return { status: 200, body: { bound: true, session: sessionView(row) } };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/internal/v1/id/updates",
    role: "internal",
    query: FeedQuery,
    handle: async ({ query }) => {
      const after = decodeCursor(query.cursor);
      const limit = query.limit ?? 100;
      const rows = await profileChanges(deps.sql, after, limit);
      const items = rows.flatMap((r) =>
        deps.profiles.profilesOf(r.driver_license_pd_id).map((p) => ({
          park_id: p.park_id,
          driver_id: p.driver_id,
          driver_license_pd_id: r.driver_license_pd_id,
          has_id: r.has_id,
          updated_at: r.updated_at.toISOString(),
        })),
      );
      return { status: 200, body: { items, cursor: encodeCursor(rows.at(-1)?.cursor ?? after), has_more: rows.length === limit } };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/internal/v1/status/updates",
    role: "internal",
    query: FeedQuery,
    handle: async ({ query }) => {
      const after = decodeCursor(query.cursor);
      const limit = query.limit ?? 100;
      const rows = await sessionChanges(deps.sql, after, limit);
      const items = rows.flatMap((r) =>
        deps.profiles.profilesOf(r.driver_license_pd_id).map((p) => ({
          park_id: p.park_id,
          driver_id: p.driver_id,
          driver_license_pd_id: r.driver_license_pd_id,
          session_status: r.session_status,
          ended_at: iso(r.ended_at),
          updated_at: r.updated_at.toISOString(),
        })),
      );
      return { status: 200, body: { items, cursor: encodeCursor(rows.at(-1)?.cursor ?? after), has_more: rows.length === limit } };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/internal/v1/drivers/:park_id/:driver_id/can-take-orders",
    role: "internal",
    params: DriverParams,
    handle: async ({ params }) => {
      const licence = await licenceOf(params.park_id, params.driver_id);
      const [row, region] = await Promise.all([findDriverStatus(deps.sql, licence), regionOfDriver(deps.trackstory, deps.regions, params)]);
      const reasons = region === null ? [] : refusals(row, deps.now());
      return { status: 200, body: { allowed: reasons.length === 0, reasons, blocking: deps.blocking, region } };
    },
  });
}

/**
 * KRT's id check, its failures as the bind's statuses: KRT unreachable or too slow is 503
 * `krt_unavailable` (retry later), KRT refusing the check is 422 `krt_refused`, an answer off
 * contract 502 `krt_protocol`.
 */
async function checkIdAtKrt(krt: Pick<Krt, "checkId">, id: string, driverLicense: string): Promise<boolean> {
  try {
    return await krt.checkId(id, driverLicense);
  } catch (error) {
    if (error instanceof PartnerTimeoutError) throw new HttpError(503, "krt_unavailable", "KRT did not answer in time; nothing was bound");
    if (error instanceof PartnerRejectedError) throw new HttpError(422, "krt_refused", `KRT refused the id check (${error.status})`, { status: error.status });
    if (error instanceof PartnerProtocolError) throw new HttpError(502, "krt_protocol", "KRT answered the id check off contract");
    throw error;
  }
}
