// Partner simulators for driver-status suites whose instances run as child processes: started
// here, passed to the instances by URL, so they outlive an instance killed mid-test.
import { startDriverStatusPartners, type DriverStatusPartners } from "../support/driverStatusPartners.ts";
import { pointIn } from "../../integrations/trackstory/index.ts";
import { TOKENS } from "../support/instance.ts";
import type { TestDriver } from "./driverStatus.support.ts";

export interface Partners extends DriverStatusPartners {
  /** Makes the drivers known to every partner: in Moscow, in a sent category, registered in KRT. */
  add(drivers: readonly TestDriver[]): void;
}

export async function startPartners(): Promise<Partners> {
  const partners = await startDriverStatusPartners();
  const { krt, profiles, categories, trackstory, personal } = partners;
  return {
    ...partners,
    add: (drivers) => {
      for (const d of drivers) {
        personal.preload("driver_licenses", d.licenceNumber, d.licence);
        profiles.upsert([{ park_id: d.park_id, driver_id: d.driver_id, driver_license_pd_id: d.licence }]);
        categories.set([{ park_id: d.park_id, driver_id: d.driver_id, categories: ["comfort"] }]);
        trackstory.move([{ park_id: d.park_id, driver_id: d.driver_id, ...pointIn("moscow") }]);
        krt.register(d.krtId, d.licenceNumber);
      }
    },
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
