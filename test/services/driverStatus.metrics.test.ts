// The seed's product metric on /metrics: per region, the drivers working now whom can-take-orders
// would refuse once blocking is on (read from the projection when scraped).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { startTestInstance, type TestInstance } from "../support/instance.ts";
import { addDrivers, asDriver, bind, internal, testDriver, type TestDriver } from "./driverStatus.support.ts";

let app: TestInstance;
beforeAll(async () => {
  app = await startTestInstance({ STATUS_REGIONS: "moscow,saint_petersburg" });
});
afterAll(async () => {
  await app?.close();
});

const refused = async (region: string) => {
  const line = `fleet_krt_drivers_refused_if_blocking{region="${region}"}`;
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};

let at = Date.now() - 60_000;
const tellStatus = (d: TestDriver, connected: boolean) =>
  app.system.tell(`krt-session/${d.licence}`, { type: "connectivity", park_id: d.park_id, driver_id: d.driver_id, connected, status_at: ++at });
const canTake = async (d: TestDriver) => (await internal(app, `/internal/v1/drivers/${d.park_id}/${d.driver_id}/can-take-orders`)).body;

describe("product metric: drivers refused once blocking", () => {
  it("counts, per region, the working drivers can-take-orders refuses: not those offline, outside the regions, or with an id and an open shift", async () => {
    const [noId, withShift, offline, outside] = [testDriver(), testDriver(), testDriver(), testDriver()];
    const inPiter = testDriver();
    await addDrivers(app, [noId, withShift, offline]);
    await addDrivers(app, [inPiter], { region: "saint_petersburg" });
    await addDrivers(app, [outside]);
    app.simulators.trackstory!.move([{ park_id: outside.park_id, driver_id: outside.driver_id, lat: 10, lon: 10 }]);
    await bind(app, withShift);

    for (const d of [noId, withShift, offline, outside, inPiter]) await tellStatus(d, true);
    await tellStatus(offline, false);
    await eventually(async () => (await asDriver(app, withShift, "GET")).body.session?.status === "active");

    await eventually(async () => (await refused("moscow")) === 1 && (await refused("saint_petersburg")) === 1);
    // The same drivers as can-take-orders says.
    expect((await canTake(noId)).allowed).toBe(false);
    expect((await canTake(inPiter)).allowed).toBe(false);
    for (const d of [withShift, outside]) expect((await canTake(d)).allowed).toBe(true);
    expect((await canTake(offline)).allowed).toBe(false); // refused, but not working: no supply lost

    // He binds his id and KRT opens his shift: no longer refused. Another Moscow driver goes online.
    await bind(app, noId);
    await eventually(async () => (await asDriver(app, noId, "GET")).body.session?.status === "active");
    await tellStatus(offline, true);
    await eventually(async () => (await refused("moscow")) === 1 && (await canTake(noId)).allowed === true);
    await tellStatus(offline, false);
    await eventually(async () => (await refused("moscow")) === 0);
    expect(await refused("saint_petersburg")).toBe(1);
  });
});
