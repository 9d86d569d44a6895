// Driver statuses without the stream: the driver id routes, can-take-orders, the caches'
// readiness and the session actor reporting to KRT, through HTTP and the simulators.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults } from "../../integrations/simulator.ts";
import { startDriverProfilesSimulator, type DriverProfilesSimulator } from "../../integrations/driverProfiles/index.ts";
import { noKrtFaults } from "../../integrations/krt/index.ts";
import { pointIn } from "../../integrations/trackstory/index.ts";
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
  Object.assign(app.simulators.trackstory!.faults, noFaults());
  Object.assign(app.simulators.krt!.krtFaults, noKrtFaults());
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

  it("bind - KRT refusing the id check (a 4xx) is 422 krt_refused naming KRT's status; nothing is bound, and a retry once KRT checks again binds", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    for (const status of [403, 404, 400]) {
      app.simulators.krt!.krtFaults.refuseChecks = status;
      const res = await asDriver(app, d, "POST", { deptrans_id: d.krtId });
      expect(res.status, String(status)).toBe(422);
      expect(res.body).toMatchObject({ code: "krt_refused", details: { status } });
    }
    expect((await asDriver(app, d, "GET")).body.bound).toBe(false);
    app.simulators.krt!.krtFaults.refuseChecks = null;
    expect((await asDriver(app, d, "POST", { deptrans_id: d.krtId })).status).toBe(200);
  });

  it("bind - KRT answering the id check off contract is 502 krt_protocol, never taken for a yes; nothing is bound", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    app.simulators.krt!.krtFaults.checksOffContract = true;
    const res = await asDriver(app, d, "POST", { deptrans_id: d.krtId });
    expect(res.status).toBe(502);
    expect(res.body.code).toBe("krt_protocol");
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
  const moveTo = (d: { park_id: string; driver_id: string }, where: { lat: number; lon: number }) =>
    app.simulators.trackstory!.move([{ park_id: d.park_id, driver_id: d.driver_id, ...where }]);

  it("in Moscow a driver without a KRT id may not, naming both failed conditions (no id, no shift); stage 1 does not block", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    expect((await canTake(d)).body).toEqual({ allowed: false, reasons: ["no_deptrans_id", "no_session"], blocking: false, region: "moscow" });
  });

  it("a bound driver KRT never answered for may not (no_session); he may once KRT opens his shift, and may not once it ended", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    await bind(app, d);
    expect((await canTake(d)).body).toEqual({ allowed: false, reasons: ["no_session"], blocking: false, region: "moscow" });
    await tellStatus(d.licence, d, true, Date.now() - 5_000);
    await eventually(async () => (await asDriver(app, d, "GET")).body.session?.status === "active");
    expect((await canTake(d)).body).toEqual({ allowed: true, reasons: [], blocking: false, region: "moscow" });
    // KRT ends the shift; the next report brings the news.
    app.simulators.krt!.setSession(d.krtId, { status: "active", ended_at: Date.now() - 1 });
    await tellStatus(d.licence, d, false, Date.now() - 1_000);
    await eventually(async () => (await asDriver(app, d, "GET")).body.session?.status === "ended");
    expect((await canTake(d)).body).toEqual({ allowed: false, reasons: ["session_ended"], blocking: false, region: "moscow" });
  });

  it("a bound driver whose KRT answer is `none` (no shift: his first report was a disconnect) may not", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    await bind(app, d);
    await tellStatus(d.licence, d, false, Date.now() - 5_000);
    await eventually(async () => (await asDriver(app, d, "GET")).body.session?.status === "none");
    expect((await canTake(d)).body).toMatchObject({ allowed: false, reasons: ["no_session"] });
  });

  it("outside the configured regions (another city, or no known position) a driver may, with no id and no shift; back in Moscow he may not", async () => {
    const d = testDriver();
    await addDrivers(app, [d], { region: "saint_petersburg" });
    expect((await canTake(d)).body).toEqual({ allowed: true, reasons: [], blocking: false, region: null });
    moveTo(d, { lat: 10, lon: 10 });
    expect((await canTake(d)).body).toEqual({ allowed: true, reasons: [], blocking: false, region: null });
    const unseen = testDriver(); // known to driver-profiles, never seen by trackstory
    app.simulators.driverProfiles!.upsert([{ park_id: unseen.park_id, driver_id: unseen.driver_id, driver_license_pd_id: unseen.licence }]);
    await app.services.driverStatus.refreshCaches();
    expect((await canTake(unseen)).body).toEqual({ allowed: true, reasons: [], blocking: false, region: null });
    moveTo(d, pointIn("moscow"));
    expect((await canTake(d)).body).toEqual({ allowed: false, reasons: ["no_deptrans_id", "no_session"], blocking: false, region: "moscow" });
  });

  it("trackstory down is 503 trackstory_unavailable, never a guess either way", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    app.simulators.trackstory!.faults.down = true;
    const res = await canTake(d);
    app.simulators.trackstory!.faults.down = false;
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("trackstory_unavailable");
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
    other.simulators.trackstory!.move([{ park_id: "park-c", driver_id: "d1", ...pointIn("moscow") }]);
    expect((await internal(other, "/internal/v1/drivers/park-c/d1/can-take-orders")).body).toEqual({
      allowed: false,
      reasons: ["no_deptrans_id", "no_session"],
      blocking: true,
      region: "moscow",
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
