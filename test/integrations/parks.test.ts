import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults } from "../../integrations/index.ts";
import { demoParks, ParksClient, startParksSimulator, type ParkDriver, type ParksSimulator } from "../../integrations/parks/index.ts";
import { postJson, until } from "./support.ts";

const drivers: ParkDriver[] = [
  { driverId: "d01", workRule: "hourly", status: "online" },
  { driverId: "d02", workRule: "hourly", status: "working" },
  { driverId: "d03", workRule: "hourly", status: "offline" },
  { driverId: "d04", workRule: "default", status: "online" },
  { driverId: "d05", workRule: "default", status: "working" },
  { driverId: "d06", workRule: "default", status: "offline" },
  { driverId: "d07", workRule: "default", status: "online" },
];

let sim: ParksSimulator;
let parks: ParksClient;
beforeAll(async () => {
  sim = await startParksSimulator({ parks: { "park-a": drivers, "park-b": [{ driverId: "b1", workRule: "hourly", status: "online" }] } });
  parks = new ParksClient({ baseUrl: sim.url, timeoutMs: 1_000, retries: 5, retryBaseMs: 10, pageSize: 2 });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  Object.assign(sim.faults, noFaults());
  sim.stats.requests = 0;
});

describe("parks", () => {
  it("listDrivers pages through the whole park and returns sorted ids", async () => {
    expect(await parks.listDrivers({ parkId: "park-a" })).toEqual(["d01", "d02", "d03", "d04", "d05", "d06", "d07"]);
    expect(sim.stats.requests).toBe(4);
  });

  it("status online keeps online drivers and status working keeps working ones", async () => {
    expect(await parks.listDrivers({ parkId: "park-a", status: "online" })).toEqual(["d01", "d04", "d07"]);
    expect(await parks.listDrivers({ parkId: "park-a", status: "working" })).toEqual(["d02", "d05"]);
  });

  it("work rule, status, include and exclude lists apply together", async () => {
    expect(await parks.listDrivers({ parkId: "park-a", workRule: "default" })).toEqual(["d04", "d05", "d06", "d07"]);
    const filtered = await parks.listDrivers({
      parkId: "park-a",
      workRule: "default",
      status: "online",
      includeContractorIds: ["d01", "d04", "d07", "b1"],
      excludeContractorIds: ["d07"],
    });
    expect(filtered).toEqual(["d04"]);
  });

  it("empty include and exclude lists do not restrict", async () => {
    const all = await parks.listDrivers({ parkId: "park-b", includeContractorIds: [], excludeContractorIds: [] });
    expect(all).toEqual(["b1"]);
  });

  it("a park never lists another park's drivers, and an unknown park has none", async () => {
    expect(await parks.listDrivers({ parkId: "park-b", includeContractorIds: ["d01"] })).toEqual([]);
    expect(await parks.listDrivers({ parkId: "nowhere" })).toEqual([]);
  });

  it("drivers added later, in process or over HTTP, are listed", async () => {
    sim.addDrivers("park-c", [{ driverId: "c2", workRule: "default", status: "online" }]);
    const added = await postJson(`${sim.url}/__parks/drivers`, {
      park_id: "park-c",
      drivers: [{ driver_id: "c1", work_rule: "default", status: "working" }],
    });
    expect(added.status).toBe(200);
    expect(await parks.listDrivers({ parkId: "park-c" })).toEqual(["c1", "c2"]);
  });

  it("listDrivers rides out a partner that is down for a while", async () => {
    sim.faults.down = true;
    const listed = parks.listDrivers({ parkId: "park-b" });
    await until(() => sim.stats.requests >= 2);
    sim.faults.down = false;
    expect(await listed).toEqual(["b1"]);
  });

  it("the simulator answers 400 with the field path for a bad body or a foreign cursor", async () => {
    const bad = await postJson(`${sim.url}/v1/parks/drivers/list`, { park_id: "park-a", status: "asleep", limit: 0 });
    expect(bad.status).toBe(400);
    expect(bad.json.issues.map((i: { path: string }) => i.path)).toEqual(["status", "limit"]);
    const cursor = await postJson(`${sim.url}/v1/parks/drivers/list`, { park_id: "park-a", cursor: "bm9wZQ", limit: 5 });
    expect(cursor).toMatchObject({ status: 400, json: { code: "invalid_cursor" } });
  });

  it("demoParks holds two parks of twenty drivers with every status and several work rules", () => {
    const demo = demoParks();
    expect(Object.keys(demo)).toHaveLength(2);
    for (const park of Object.values(demo)) {
      expect(park).toHaveLength(20);
      expect(new Set(park.map((d) => d.status))).toEqual(new Set(["offline", "working", "online"]));
      expect(new Set(park.map((d) => d.workRule)).size).toBeGreaterThan(1);
    }
  });
});
