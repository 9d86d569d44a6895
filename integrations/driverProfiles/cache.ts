// The driver-profiles cache: (park_id, driver_id) -> driver_license_pd_id, and back from a
// licence to every profile of that person.
import type { Logger } from "../../actors/logger.ts";
import { driverKey, type DriverKey } from "../driverKey.ts";
import { createIncrementalCache, type IncrementalCache } from "../incrementalCache.ts";
import type { DriverProfile, DriverProfiles } from "./client.ts";

export interface ProfileRef {
  readonly park_id: string;
  readonly driver_id: string;
}

export interface DriverProfilesCache {
  /** The person behind a park profile; undefined for an unknown profile or one without a licence. */
  licenceOf(driver: DriverKey): string | undefined;
  /** Every park profile of the person with this licence. */
  profilesOf(licencePdId: string): ProfileRef[];
  readonly cache: IncrementalCache<DriverProfile>;
}

export function driverProfilesCache(source: DriverProfiles, options: { refreshMs: number; logger: Logger; now: () => number }): DriverProfilesCache {
  const cache = createIncrementalCache<DriverProfile>({
    name: "driver_profiles",
    source,
    keyOf: (p) => driverKey(p.park_id, p.driver_id),
    indexOf: (p) => p.driver_license_pd_id ?? undefined,
    isRemoval: (p) => p.driver_license_pd_id === null,
    ...options,
  });
  return {
    cache,
    licenceOf: (driver) => cache.get(driver)?.driver_license_pd_id ?? undefined,
    profilesOf: (licence) =>
      cache.keysBy(licence).map((key) => {
        const p = cache.get(key)!;
        return { park_id: p.park_id, driver_id: p.driver_id };
      }),
  };
}
