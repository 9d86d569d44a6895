// Drivers for the driver-status suites: each one known to driver-profiles (with a licence in
// personal), driver-categories, trackstory and KRT, as the service's simulators see them.
import { pointIn } from "../../integrations/trackstory/index.ts";
import type { TestInstance } from "../support/instance.ts";
import { TOKENS } from "../support/instance.ts";

export interface TestDriver {
  park_id: string;
  driver_id: string;
  /** The person: driver_license_pd_id. */
  licence: string;
  /** The licence itself (personal data, only in personal and KRT). */
  licenceNumber: string;
  /** The person's KRT id, registered in KRT under his licence. */
  krtId: string;
}

let counter = 0;

export function testDriver(options: { park?: string; tag?: string } = {}): TestDriver {
  const n = ++counter;
  const tag = options.tag ?? Math.random().toString(36).slice(2, 8);
  return {
    park_id: options.park ?? "park-s",
    driver_id: `drv-${tag}-${n}`,
    licence: `pd-lic-${tag}-${n}`,
    licenceNumber: `77LC${tag}${n}`,
    krtId: String(1_000_000_000 + Math.floor(Math.random() * 8_000_000_000)),
  };
}

/** Makes the drivers known to every partner simulator of the instance and syncs its caches. */
export async function addDrivers(
  app: TestInstance,
  drivers: readonly TestDriver[],
  options: { categories?: string[]; region?: string; registerInKrt?: boolean } = {},
): Promise<void> {
  const sims = app.simulators;
  const where = pointIn(options.region ?? "moscow");
  for (const d of drivers) {
    sims.driverPersonal!.preload("driver_licenses", d.licenceNumber, d.licence);
    sims.driverProfiles!.upsert([{ park_id: d.park_id, driver_id: d.driver_id, driver_license_pd_id: d.licence }]);
    sims.driverCategories!.set([{ park_id: d.park_id, driver_id: d.driver_id, categories: options.categories ?? ["econom"] }]);
    sims.trackstory!.move([{ park_id: d.park_id, driver_id: d.driver_id, ...where }]);
    if (options.registerInKrt !== false) sims.krt!.register(d.krtId, d.licenceNumber);
  }
  await app.services.driverStatus.refreshCaches();
}

/** Calls a driver route as the driver's app does. */
export function asDriver(app: TestInstance, d: { park_id: string; driver_id: string }, method: string, body?: unknown) {
  return app.call(method, "/driver/v1/deptrans-status/v1/id", {
    token: TOKENS.driver,
    headers: { "x-yataxi-park-id": d.park_id, "x-yataxi-driver-profile-id": d.driver_id },
    ...(body === undefined ? {} : { body }),
  });
}

/** Binds the driver's KRT id through the route. */
export async function bind(app: TestInstance, d: TestDriver): Promise<void> {
  const res = await asDriver(app, d, "POST", { deptrans_id: d.krtId });
  if (res.status !== 200) throw new Error(`bind answered ${res.status} ${JSON.stringify(res.body)}`);
}

export const internal = (app: TestInstance, path: string) => app.call("GET", path, { token: TOKENS.internal });
