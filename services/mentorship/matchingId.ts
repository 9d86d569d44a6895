// The id of a newbie's matching, derived from the person rather than from the profile he asks
// from: every binding of one driver names the same matching actor, so confirms from two of his
// parks at once meet in one actor (one matching by construction), whatever the database holds yet.
import { idFromKey } from "../../http/route.ts";
import type { Binding } from "./partners.ts";

/**
 * The person's licence (shared by all his profiles) when driver-profiles knows one, else his
 * first binding by park and driver id (driver-profiles gives a person without a licence only himself).
 * @example matchingIdOf([{ park_id: "park-1", driver_id: "newbie-1", driver_license_pd_id: "pd-1", ... }])
 */
export function matchingIdOf(bindings: readonly Binding[]): string {
  const licence = bindings.find((b) => b.driver_license_pd_id !== null)?.driver_license_pd_id;
  const person = licence ? `licence:${licence}` : `profile:${[...bindings].map((b) => `${b.park_id}/${b.driver_id}`).sort()[0]}`;
  return idFromKey("mentorship", person);
}
