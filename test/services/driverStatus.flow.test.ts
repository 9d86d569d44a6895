// Driver statuses without the stream: the driver id routes, can-take-orders, the caches'
// readiness and the session actor reporting to KRT, through HTTP and the simulators.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults } from "../../integrations/simulator.ts";
import { startDriverProfilesSimulator, type DriverProfilesSimulator } from "../../integrations/driverProfiles/index.ts";
import { eventually } from "../support/harness.ts";
import { startTestInstance, TOKENS, type TestInstance } from "../support/instance.ts";
import { addDrivers, asDriver, bind, internal, testDriver } from "./driverStatus.support.ts";

let app: TestInstance;

beforeAll(async () => {
  app = await startTestInstance({ PARTNER_TIMEOUT_MS: "300", PARTNER_RETRIES: "0", KRT_RETRY_BASE_MS: "50", KRT_RETRY_MAX_MS: "200" });
});
afterAll(async () => {
  await app.close();
});
beforeEach(() => {
  Object.assign(app.simulators.krt!.faults, noFaults());
});

const tellStatus = (licence: string, d: { park_id: string; driver_id: string }, connected: boolean, at: number) =>
  app.system.tell(`krt-session/${licence}`, { type: "connectivity", park_id: d.park_id, driver_id: d.driver_id, connected, status_at: at });

describe("driver id", () => {
  it("bind - the id matches the driver's licence in KRT: bound, and GET says so without ever showing the id", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    expect((await asDriver(app, d, "GET")).body).toEqual({ bound: false, session: null });
    const res = await asDriver(app, d, "POST", { deptrans_id: d.krtId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ bound: true, session: null });
    const view = await asDriver(app, d, "GET");
    expect(view.body).toEqual({ bound: true, session: null });
    expect(JSON.stringify(view.body)).not.toContain(d.krtId);
  });

  it("bind - another person's id is 409 id_license_mismatch and nothing is bound", async () => {
    const [d, other] = [testDriver(), testDriver()];
    await addDrivers(app, [d, other]);
    const res = await asDriver(app, d, "POST", { deptrans_id: other.krtId });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("id_license_mismatch");
    expect((await asDriver(app, d, "GET")).body.bound).toBe(false);
  });

  it("bind - KRT down is 503 krt_unavailable and nothing is bound", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    app.simulators.krt!.faults.down = true;
    const res = await asDriver(app, d, "POST", { deptrans_id: d.krtId });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("krt_unavailable");
    app.simulators.krt!.faults.down = false;
    expect((await asDriver(app, d, "GET")).body.bound).toBe(false);
  });

  it("bind - KRT too slow to answer the check is 503 krt_unavailable (retry later), not a 504, and nothing is bound", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    app.simulators.krt!.faults.slowMs = 600; // past PARTNER_TIMEOUT_MS
    const res = await asDriver(app, d, "POST", { deptrans_id: d.krtId });
    app.simulators.krt!.faults.slowMs = 0;
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("krt_unavailable");
    expect((await asDriver(app, d, "GET")).body.bound).toBe(false);
  });

  it("bind - a malformed id is 400 naming body.deptrans_id; an unknown profile is 404", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    for (const bad of ["12345", "12345678901234567890123", "ABCDEFGHIJ", 1234567890]) {
      const res = await asDriver(app, d, "POST", { deptrans_id: bad });
      expect(res.status, String(bad)).toBe(400);
      expect(res.body.details.fields[0].path).toBe("body.deptrans_id");
    }
    expect((await asDriver(app, { park_id: "park-s", driver_id: "ghost" }, "GET")).status).toBe(404);
  });

  it("bind - the statuses that waited for the id are reported to KRT once it is bound", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    await tellStatus(d.licence, d, true, Date.now() - 1_000);
    expect(app.simulators.krt!.calls().filter((c) => c.id === d.krtId)).toEqual([]);
    await bind(app, d);
    await eventually(() => app.simulators.krt!.calls().some((c) => c.id === d.krtId && c.connected));
    const view = await eventually(async () => ((await asDriver(app, d, "GET")).body.session ? (await asDriver(app, d, "GET")).body : undefined));
    expect(view).toMatchObject({ bound: true, session: { status: "active", ended_at: expect.any(String) } });
  });
});

describe("can-take-orders", () => {
  const canTake = (d: { park_id: string; driver_id: string }) => internal(app, `/internal/v1/drivers/${d.park_id}/${d.driver_id}/can-take-orders`);

  it("a driver without a KRT id may not, and stage 1 does not block", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    expect((await canTake(d)).body).toEqual({ allowed: false, reasons: ["no_deptrans_id"], blocking: false });
  });

  it("a bound driver may while his shift runs, and may not once KRT says it ended", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    await bind(app, d);
    expect((await canTake(d)).body).toEqual({ allowed: true, reasons: [], blocking: false });
    await tellStatus(d.licence, d, true, Date.now() - 5_000);
    await eventually(async () => (await asDriver(app, d, "GET")).body.session?.status === "active");
    expect((await canTake(d)).body.allowed).toBe(true);
    // KRT ends the shift; the next report brings the news.
    app.simulators.krt!.setSession(d.krtId, { status: "active", ended_at: Date.now() - 1 });
    await tellStatus(d.licence, d, false, Date.now() - 1_000);
    await eventually(async () => (await asDriver(app, d, "GET")).body.session?.status === "ended");
    expect((await canTake(d)).body).toEqual({ allowed: false, reasons: ["session_ended"], blocking: false });
  });

  it("an unknown driver is 404", async () => {
    expect((await canTake({ park_id: "park-s", driver_id: "nobody" })).status).toBe(404);
  });
});

describe("KRT outage", () => {
  it("while KRT is down the actor backs off; when it is back the latest connectivity is delivered, the older never", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    await bind(app, d);
    const krt = app.simulators.krt!;
    krt.faults.down = true;
    const t = Date.now() - 10_000;
    await tellStatus(d.licence, d, true, t);
    await eventually(() => krt.stats.requests > 0);
    await tellStatus(d.licence, d, false, t + 1);
    await tellStatus(d.licence, d, true, t + 2);
    await tellStatus(d.licence, d, false, t + 3);
    await tellStatus(d.licence, d, true, t + 1_000); // busy after online: nothing new
    await new Promise((r) => setTimeout(r, 300));
    krt.faults.down = false;
    await eventually(() => krt.calls().some((c) => c.id === d.krtId));
    await new Promise((r) => setTimeout(r, 300));
    expect(
      krt
        .calls()
        .filter((c) => c.id === d.krtId)
        .map((c) => [c.connected, c.at - t]),
    ).toEqual([[true, 1_000]]);
  });
});

describe("caches", () => {
  let profilesSim: DriverProfilesSimulator;
  let other: TestInstance | undefined;
  beforeAll(async () => {
    profilesSim = await startDriverProfilesSimulator();
  });
  afterAll(async () => {
    await other?.close();
    await profilesSim.close();
  });

  it("an instance started while driver-profiles is down is ready, reports the cache down and answers its driver routes 503; once it is back and filled, they serve", async () => {
    profilesSim.faults.down = true;
    profilesSim.upsert([{ park_id: "park-c", driver_id: "d1", driver_license_pd_id: "pd-c1" }]);
    other = await startTestInstance({
      DRIVER_PROFILES_URL: profilesSim.url,
      DRIVER_CACHE_REFRESH_MS: "100",
      PARTNER_RETRIES: "0",
      CAN_TAKE_ORDERS_BLOCKING: "true",
    });
    // Only what every route needs (the database) fails /ready; this service's dependency is reported.
    const ready = await other.call("GET", "/ready", { token: TOKENS.admin });
    expect(ready.status).toBe(200);
    expect(ready.body.services.driverStatus.driver_profiles_cache).toMatch(/^down/);
    expect((await asDriver(other, { park_id: "park-c", driver_id: "d1" }, "GET")).status).toBe(503);
    profilesSim.faults.down = false;
    await eventually(
      async () => (await other!.call("GET", "/ready", { token: TOKENS.admin })).body.services.driverStatus.driver_profiles_cache === "ok",
      5_000,
    );
    expect((await asDriver(other, { park_id: "park-c", driver_id: "d1" }, "GET")).body).toEqual({ bound: false, session: null });
    // This instance runs stage 2: consumers are told to block.
    expect((await internal(other, "/internal/v1/drivers/park-c/d1/can-take-orders")).body).toEqual({
      allowed: false,
      reasons: ["no_deptrans_id"],
      blocking: true,
    });
  });

  it("when driver-profiles goes down the filled cache keeps serving and the instance stays ready", async () => {
    profilesSim.faults.down = true;
    await new Promise((r) => setTimeout(r, 300));
    expect((await other!.call("GET", "/ready", { token: TOKENS.admin })).status).toBe(200);
    expect((await asDriver(other!, { park_id: "park-c", driver_id: "d1" }, "GET")).status).toBe(200);
    profilesSim.faults.down = false;
  });
});
