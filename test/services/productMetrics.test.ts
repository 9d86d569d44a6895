// The seeds' product metrics on /metrics: mailings per status and drivers reached (from the
// projection, every park), customers read and changed (by this instance), mentorship
// applications per status.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { startTestInstance, TOKENS, type TestInstance } from "../support/instance.ts";

let app: TestInstance;
beforeAll(async () => {
  app = await startTestInstance();
  app.simulators.parks!.addDrivers(
    "park-m",
    ["m1", "m2", "m3"].map((driverId) => ({ driverId, workRule: "default", status: "online" as const })),
  );
});
afterAll(async () => {
  await app?.close();
});

const metric = async (line: string) => {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};

describe("product metrics", () => {
  it("mailings per status and the drivers reached by those sent", async () => {
    for (const message of ["one", "two"]) {
      const res = await app.call("POST", "/fleet/communications/v1/mailings", { park: "park-m", body: { message } });
      expect(res.status).toBe(202);
    }
    await eventually(async () => (await metric('fleet_mailings{status="sent"}')) === 2);
    expect(await metric('fleet_mailings{status="failed"}')).toBe(0);
    expect(await metric("fleet_mailing_drivers_reached")).toBe(6);
  });

  it("customers read (found or not) and changed, by state", async () => {
    const base = "/fleet/customers/v1";
    const created = await app.call("PUT", `${base}/customers`, { park: "park-m", body: { phone: "+79161112233", name: "Вера" } });
    expect(created.status).toBe(201);
    expect((await app.call("GET", `${base}/customers/${created.body.customer_id}`, { park: "park-m" })).status).toBe(200);
    expect((await app.call("GET", `${base}/customers/00000000-0000-4000-8000-000000000000`, { park: "park-m" })).status).toBe(404);
    expect(await metric('fleet_customers_changed_total{state="created"}')).toBe(1);
    expect(await metric('fleet_customers_read_total{found="true"}')).toBeGreaterThanOrEqual(1);
    expect(await metric('fleet_customers_read_total{found="false"}')).toBeGreaterThanOrEqual(1);
  });

  it("mentorship applications per status", async () => {
    const sims = app.simulators;
    const phone_pd_id = sims.mentorPersonal!.preload("phones", "+79168880001");
    sims.mentorProfiles!.upsert([{ park_id: "park-m", driver_id: "newbie", driver_license_pd_id: "pd-licence-metrics", phone_pd_id, name: "Newbie" }]);
    expect(await metric('fleet_matchings{status="requested"}')).toBe(0);
    const res = await app.call("POST", "/driver/v1/contractor-mentorship/v1/confirm", {
      token: TOKENS.driver,
      headers: { "x-yataxi-park-id": "park-m", "x-yataxi-driver-profile-id": "newbie" },
    });
    expect(res.status).toBe(200);
    await eventually(async () => (await metric('fleet_matchings{status="requested"}')) === 1);
    expect(await metric('fleet_matchings{status="succeed"}')).toBe(0);
  });
});
