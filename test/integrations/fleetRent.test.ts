// The fleet-rent client against its simulator: rented or own car per park driver, and the client's
// failures when the partner is down, slow, refuses, or the caller gives up.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults, PartnerRejectedError, PartnerTimeoutError, PartnerUnavailableError } from "../../integrations/index.ts";
import { fleetRentClient, startFleetRentSimulator, type FleetRentClient, type FleetRentSimulator } from "../../integrations/fleetRent/index.ts";
import { postJson, until } from "./support.ts";

let sim: FleetRentSimulator;
let rent: FleetRentClient;
beforeAll(async () => {
  sim = await startFleetRentSimulator();
  rent = fleetRentClient({ baseUrl: sim.url, timeoutMs: 500, retries: 20, retryBaseMs: 10, maxDelayMs: 50 });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  Object.assign(sim.faults, noFaults());
  sim.stats.requests = 0;
});

describe("fleet-rent", () => {
  it("isRented - a car rented from that park is true; the same driver's profile in another park, or a driver never seen, is false", async () => {
    sim.set([{ park_id: "park-1", driver_id: "newbie-1", rented: true }]);
    expect(await rent.isRented("park-1", "newbie-1")).toBe(true);
    expect(await rent.isRented("park-2", "newbie-1")).toBe(false);
    expect(await rent.isRented("park-1", "nobody")).toBe(false);
  });

  it("isRented - a rental ended is false again; ids with reserved URL characters reach the partner intact", async () => {
    sim.set([{ park_id: "park&x=1", driver_id: "d/1?", rented: true }]);
    expect(await rent.isRented("park&x=1", "d/1?")).toBe(true);
    expect(await rent.isRented("park", "d/1?")).toBe(false);
    await postJson(`${sim.url}/__fleet-rent/rentals`, { rentals: [{ park_id: "park&x=1", driver_id: "d/1?", rented: false }] });
    expect(await rent.isRented("park&x=1", "d/1?")).toBe(false);
  });

  it("down - a short outage is ridden out by the retries; a long one is fleet_rent_unavailable", async () => {
    sim.set([{ park_id: "park-1", driver_id: "d-down", rented: true }]);
    sim.faults.down = true;
    const pending = rent.isRented("park-1", "d-down");
    await until(() => sim.stats.requests >= 2);
    sim.faults.down = false;
    expect(await pending).toBe(true);

    sim.faults.errorRate = 1;
    const once = fleetRentClient({ baseUrl: sim.url, timeoutMs: 500, retries: 1, retryBaseMs: 10 });
    const error = await once.isRented("park-1", "d-down").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error).toMatchObject({ code: "fleet_rent_unavailable", status: 500 });
  });

  it("slow - past the timeout is fleet_rent_timeout; a caller that aborts gets its reason back at once", async () => {
    sim.faults.slowMs = 1_000;
    const quick = fleetRentClient({ baseUrl: sim.url, timeoutMs: 50, retries: 0 });
    await expect(quick.isRented("park-1", "d1")).rejects.toBeInstanceOf(PartnerTimeoutError);

    const caller = new AbortController();
    const pending = rent.isRented("park-1", "d1", caller.signal).catch((e: unknown) => e);
    await until(() => sim.stats.requests >= 2);
    caller.abort(new Error("matching stopped"));
    expect(await pending).toMatchObject({ message: "matching stopped" });
  });

  it("unauthorized - a 401 is fleet_rent_rejected and not retried; an empty id is refused with 400", async () => {
    sim.faults.unauthorized = true;
    await expect(rent.isRented("park-1", "d1")).rejects.toMatchObject({ code: "fleet_rent_rejected", status: 401 });
    expect(sim.stats.requests).toBe(1);
    sim.faults.unauthorized = false;
    const error = await rent.isRented("park-1", "").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerRejectedError);
    expect(error).toMatchObject({ status: 400 });
  });
});
