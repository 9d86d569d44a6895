// Driver statuses to KRT (SPEC 3.2): the driver's KRT id (role driver), incremental feeds of ids
// and session statuses, and "may this driver take orders now" (role internal).
//
// - GET never returns the raw KRT id, only whether there is one.
// - POST checks the id against the driver's licence in KRT before binding it: 400 bad format,
//   409 `id_license_mismatch`, 503 `krt_unavailable` (down, too slow, or refusing our
//   credentials), 422 `krt_refused` (KRT refused the check), 502 `krt_protocol`.
// - Feeds: `cursor` absent is a full load (of session statuses: each person's latest only);
//   following the returned cursor never misses a change, also when writers commit out of order
//   (storage/driverStatusRepository.ts). `limit` counts persons; each is listed once per park
//   profile of his (a person the profiles cache cannot place yet waits for a later page: `perProfile`).
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
import type { DriverProfilesCache, ProfileRef } from "../../integrations/driverProfiles/index.ts";
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

/** Where a poll of a feed starts; `fullLoad`: in a full load (no cursor) that has not reached the end yet. */
interface FeedPosition {
  after: FeedCursor;
  fullLoad: boolean;
}

function encodeCursor(c: FeedCursor, fullLoad = false): string {
  return Buffer.from(`${c.xid}.${c.seq}${fullLoad ? ".full" : ""}`).toString("base64url");
}

function decodeCursor(cursor: string | undefined): FeedPosition {
  if (cursor === undefined || cursor === "") return { after: startOfFeed, fullLoad: true };
  const m = /^(\d{1,20})\.(\d{1,19})(\.full)?$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m)
    throw badRequest("invalid_request", "invalid query: query.cursor", { fields: [{ path: "query.cursor", message: "not a cursor returned by this route" }] });
  return { after: { xid: m[1]!, seq: m[2]! }, fullLoad: m[3] !== undefined };
}

/** How much later than a row a profiles sync must begin to count as later: instances' clocks differ. */
const CLOCK_SKEW_MS = 1_000;

/**
 * A feed page: an item per park profile of each row's person, in row order, up to the first person
 * the profiles cache cannot place. He had a profile when his row was written (the status stream or
 * the bind found him in some instance's cache), so a cache not synced since is behind: the page
 * ends before him (`held`) and a later poll lists him (before the first fill, everyone unknown
 * waits). Once a sync begun after his row still finds no profile, he has none left and is passed.
 */
function perProfile<R extends { driver_license_pd_id: string; updated_at: Date; cursor: FeedCursor }, I>(
  rows: readonly R[],
  profiles: DriverProfilesCache,
  item: (row: R, profile: ProfileRef) => I,
): { items: I[]; through: FeedCursor | undefined; held: boolean } {
  const items: I[] = [];
  let through: FeedCursor | undefined;
  for (const row of rows) {
    const refs = profiles.profilesOf(row.driver_license_pd_id);
    const synced = profiles.cache.syncedFrom() ?? Number.NEGATIVE_INFINITY;
    if (refs.length === 0 && synced <= row.updated_at.getTime() + CLOCK_SKEW_MS) return { items, through, held: true };
    for (const p of refs) items.push(item(row, p));
    through = row.cursor;
  }
  return { items, through, held: false };
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
    doc: { summary: "Whether the driver has a KRT id bound, and his KRT session", errors: [404] },
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
    doc: { summary: "Bind the driver's KRT id after KRT confirms it matches his licence", errors: [404, 409, 502, 504] },
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
    doc: { summary: "Feed of KRT id bindings after a cursor" },
    query: FeedQuery,
    handle: async ({ query }) => {
      const { after } = decodeCursor(query.cursor); // one row per person: a full load is the whole feed
      const limit = query.limit ?? 100;
      const rows = await profileChanges(deps.sql, after, limit);
      const page = perProfile(rows, deps.profiles, (r, p) => ({
        park_id: p.park_id,
        driver_id: p.driver_id,
        driver_license_pd_id: r.driver_license_pd_id,
        has_id: r.has_id,
        updated_at: r.updated_at.toISOString(),
      }));
      return { status: 200, body: { items: page.items, cursor: encodeCursor(page.through ?? after), has_more: !page.held && rows.length === limit } };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/internal/v1/status/updates",
    role: "internal",
    doc: { summary: "Feed of KRT session statuses after a cursor" },
    query: FeedQuery,
    handle: async ({ query }) => {
      const { after, fullLoad } = decodeCursor(query.cursor);
      const limit = query.limit ?? 100;
      const rows = await sessionChanges(deps.sql, after, limit, { latestOnly: fullLoad });
      const page = perProfile(rows, deps.profiles, (r, p) => ({
        park_id: p.park_id,
        driver_id: p.driver_id,
        driver_license_pd_id: r.driver_license_pd_id,
        session_status: r.session_status,
        ended_at: iso(r.ended_at),
        updated_at: r.updated_at.toISOString(),
      }));
      const hasMore = !page.held && rows.length === limit;
      // A full load lists each person's current status until it reaches the end; the history follows.
      return { status: 200, body: { items: page.items, cursor: encodeCursor(page.through ?? after, fullLoad && (hasMore || page.held)), has_more: hasMore } };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/internal/v1/drivers/:park_id/:driver_id/can-take-orders",
    role: "internal",
    doc: { summary: "Whether a driver may take orders now, and why not" },
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
