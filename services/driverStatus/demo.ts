// Demo data for `npm start`: twenty drivers of park-1 with licences, categories, positions in
// Moscow and KRT ids, so the status stream and the driver routes have someone to work with.
import { pointIn } from "../../integrations/trackstory/index.ts";
import type { DriverStatusSimulators } from "./partners.ts";

export function seedDriverStatusDemo(simulators: DriverStatusSimulators): void {
  const moscow = pointIn("moscow");
  for (let i = 1; i <= 20; i++) {
    const driver_id = `driver-1-${String(i).padStart(2, "0")}`;
    const licence = `77DEMO${String(i).padStart(4, "0")}`;
    const pdId = simulators.driverPersonal?.preload("driver_licenses", licence, `pd-licence-demo-${i}`) ?? `pd-licence-demo-${i}`;
    simulators.driverProfiles?.upsert([{ park_id: "park-1", driver_id, driver_license_pd_id: pdId }]);
    simulators.driverCategories?.set([{ park_id: "park-1", driver_id, categories: i % 4 === 0 ? ["cargo"] : ["econom", "comfort"] }]);
    simulators.trackstory?.move([{ park_id: "park-1", driver_id, ...moscow }]);
    simulators.krt?.register(`70000000${String(i).padStart(2, "0")}`, licence);
  }
}
