// "May this driver take orders now" (seed 003: "an ID and an active shift, in the experiment's
// region"): where the driver is, by the status stream's own lookup (his last position in
// trackstory, its region in the geobase, among STATUS_REGIONS), and which conditions a person
// inside those regions fails. Read by can-take-orders, and counted for the seed's product metric.
import { driverKey } from "../../integrations/driverKey.ts";
import { regionOf, type Trackstory } from "../../integrations/trackstory/index.ts";
import { connectedDriverStatuses, type DriverStatusRow } from "../../storage/driverStatusRepository.ts";
import type { Queryable } from "../../storage/database.ts";

export type Refusal = "no_deptrans_id" | "no_session" | "session_ended";

/**
 * Each condition the person fails: a bound KRT id (`no_deptrans_id`), and an open KRT shift, i.e.
 * KRT's last answer `active` or `paused` ending in the future (`no_session`: KRT never answered
 * for him, answered `none`, or named no end; `session_ended`: `ended`, or its end has passed).
 * @example refusals({ deptrans_id: null, session: null }, Date.now()) // ["no_deptrans_id", "no_session"]
 */
export function refusals(row: Pick<DriverStatusRow, "deptrans_id" | "session">, now: number): Refusal[] {
  const reasons: Refusal[] = [];
  if (row.deptrans_id === null) reasons.push("no_deptrans_id");
  const s = row.session;
  if (s === null || s.status === "none" || (s.status !== "ended" && s.ended_at === null)) reasons.push("no_session");
  else if (s.status === "ended" || (s.ended_at !== null && s.ended_at.getTime() <= now)) reasons.push("session_ended");
  return reasons;
}

/** The configured region containing the position; null outside them or with no position. */
function configuredRegion(regions: ReadonlySet<string>, position: { lat: number; lon: number } | undefined): string | null {
  const region = position && regionOf(position.lat, position.lon);
  return region !== undefined && regions.has(region) ? region : null;
}

/**
 * The configured region the driver is in by his last position, or null: outside every configured
 * region, or no known position (then, as for the status stream, he is not taken to be inside).
 * Throws the trackstory client's errors (unavailable, timeout).
 * @example await regionOfDriver(trackstory, new Set(["moscow"]), { park_id, driver_id }) // "moscow"
 */
export async function regionOfDriver(
  trackstory: Trackstory,
  regions: ReadonlySet<string>,
  driver: { park_id: string; driver_id: string },
): Promise<string | null> {
  const [position] = (await trackstory.positions([driver])).values();
  return configuredRegion(regions, position);
}

export interface RefusedIfBlockingDeps {
  readonly sql: Queryable;
  readonly trackstory: Trackstory;
  /** The person's park profiles (the driver-profiles cache). */
  readonly profilesOf: (licence: string) => readonly { park_id: string; driver_id: string }[];
  readonly regions: ReadonlySet<string>;
  readonly now: () => number;
}

/**
 * The seed's product metric ("how much supply blocking would cost"): per configured region, the
 * persons working now whom can-take-orders would refuse once blocking is on. Read from the
 * projection; only the refused ones' positions are asked of trackstory, in bulk. A person with
 * several profiles counts once, in the first configured region one of them is in.
 * @example (await refusedIfBlocking(deps)).get("moscow") // 1234
 */
export async function refusedIfBlocking(deps: RefusedIfBlockingDeps): Promise<Map<string, number>> {
  const now = deps.now();
  const refused = (await connectedDriverStatuses(deps.sql)).filter((row) => refusals(row, now).length > 0);
  const profiles = refused.map((row) => deps.profilesOf(row.driver_license_pd_id));
  const positions = await deps.trackstory.positions(profiles.flat());
  const counts = new Map<string, number>();
  for (const ofPerson of profiles) {
    const region = ofPerson.map((p) => configuredRegion(deps.regions, positions.get(driverKey(p.park_id, p.driver_id)))).find((r) => r !== null);
    if (region) counts.set(region, (counts.get(region) ?? 0) + 1);
  }
  return counts;
}
