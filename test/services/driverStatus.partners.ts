// Partner simulators for driver-status suites whose instances run as child processes: started
// here, passed to the instances by URL, so they outlive an instance killed mid-test.
import { startKrtSimulator, type KrtSimulator } from "../../integrations/krt/index.ts";
import { startDriverProfilesSimulator, type DriverProfilesSimulator } from "../../integrations/driverProfiles/index.ts";
import { startDriverCategoriesSimulator, type DriverCategoriesSimulator } from "../../integrations/driverCategories/index.ts";
import { pointIn, startTrackstorySimulator, type TrackstorySimulator } from "../../integrations/trackstory/index.ts";
import { startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import { TOKENS } from "../support/instance.ts";
import type { TestDriver } from "./driverStatus.support.ts";

export interface Partners {
  krt: KrtSimulator;
  profiles: DriverProfilesSimulator;
  categories: DriverCategoriesSimulator;
  trackstory: TrackstorySimulator;
  personal: PersonalSimulator;
  env: Record<string, string>;
  add(drivers: readonly TestDriver[]): void;
  close(): Promise<void>;
}

export async function startPartners(): Promise<Partners> {
  const [krt, profiles, categories, trackstory, personal] = await Promise.all([
    startKrtSimulator(),
    startDriverProfilesSimulator(),
    startDriverCategoriesSimulator(),
    startTrackstorySimulator(),
    startPersonalSimulator(),
  ]);
  return {
    krt,
    profiles,
    categories,
    trackstory,
    personal,
    env: { KRT_URL: krt.url, DRIVER_PROFILES_URL: profiles.url, DRIVER_CATEGORIES_URL: categories.url, TRACKSTORY_URL: trackstory.url, PERSONAL_URL: personal.url },
    add: (drivers) => {
      for (const d of drivers) {
        personal.preload("driver_licenses", d.licenceNumber, d.licence);
        profiles.upsert([{ park_id: d.park_id, driver_id: d.driver_id, driver_license_pd_id: d.licence }]);
        categories.set([{ park_id: d.park_id, driver_id: d.driver_id, categories: ["comfort"] }]);
        trackstory.move([{ park_id: d.park_id, driver_id: d.driver_id, ...pointIn("moscow") }]);
        krt.register(d.krtId, d.licenceNumber);
      }
    },
    close: async () => void (await Promise.all([krt, profiles, categories, trackstory, personal].map((s) => s.close()))),
  };
}

/** Binds a driver's KRT id through an instance's route. */
export async function bindOn(url: string, d: TestDriver): Promise<number> {
  const res = await fetch(`${url}/driver/v1/deptrans-status/v1/id`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TOKENS.driver}`,
      "x-yataxi-park-id": d.park_id,
      "x-yataxi-driver-profile-id": d.driver_id,
      "content-type": "application/json",
    },
    body: JSON.stringify({ deptrans_id: d.krtId }),
  });
  return res.status;
}
