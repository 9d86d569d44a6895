// The driver-profiles client against its simulator: each profile's name and phone personal id,
// every binding of one person, and the client's failures when the partner is down, slow or refuses.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults, PartnerRejectedError, PartnerTimeoutError, PartnerUnavailableError, startSimulator } from "../../integrations/index.ts";
import { DriverProfilesClient, startDriverProfilesSimulator, type DriverProfilesSimulator } from "../../integrations/driverProfiles/index.ts";
import { postJson, until } from "./support.ts";

let sim: DriverProfilesSimulator;
let profiles: DriverProfilesClient;
beforeAll(async () => {
  sim = await startDriverProfilesSimulator();
  profiles = new DriverProfilesClient({ baseUrl: sim.url, timeoutMs: 500, retries: 20, retryBaseMs: 10, maxDelayMs: 50 });
  sim.upsert([
    { park_id: "park-b", driver_id: "anna", driver_license_pd_id: "lic-anna", phone_pd_id: "phone-anna-b", name: "Анна Петрова" },
    { park_id: "park-a", driver_id: "anna", driver_license_pd_id: "lic-anna", phone_pd_id: "phone-anna-a", name: "Анна Петрова" },
    { park_id: "park-a", driver_id: "boris", driver_license_pd_id: "lic-boris", phone_pd_id: null, name: "Борис" },
    { park_id: "park-a", driver_id: "unlicensed", driver_license_pd_id: null, phone_pd_id: "phone-u", name: null },
  ]);
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  Object.assign(sim.faults, noFaults());
  sim.stats.requests = 0;
});

const ids = (list: readonly { park_id: string; driver_id: string }[]) => list.map((p) => `${p.park_id}/${p.driver_id}`);

describe("driver-profiles", () => {
  it("updates - every profile carries the driver's name and phone personal id (null where the park has none)", async () => {
    const page = await profiles.updates(undefined, 100);
    expect(page.items).toContainEqual({
      park_id: "park-a",
      driver_id: "anna",
      driver_license_pd_id: "lic-anna",
      phone_pd_id: "phone-anna-a",
      name: "Анна Петрова",
    });
    expect(page.items).toContainEqual({ park_id: "park-a", driver_id: "boris", driver_license_pd_id: "lic-boris", phone_pd_id: null, name: "Борис" });
  });

  it("a partner that sends profiles without name or phone (an older driver-profiles) reads as null for both, never undefined", async () => {
    const old = { park_id: "park-old", driver_id: "d1", driver_license_pd_id: "lic-old" };
    const older = await startSimulator({
      name: "driver_profiles",
      routes: (app) => {
        app.get("/v1/profiles/updates", (_req, res) => res.json({ profiles: [old], cursor: "1", has_more: false }));
        app.post("/v1/profiles/bindings", (_req, res) => res.json({ profiles: [old] }));
      },
    });
    try {
      const client = new DriverProfilesClient({ baseUrl: older.url, timeoutMs: 500, retries: 0 });
      const expected = { ...old, phone_pd_id: null, name: null };
      expect((await client.updates(undefined, 10)).items).toEqual([expected]);
      expect(await client.bindingsOf("park-old", "d1")).toEqual([expected]);
    } finally {
      await older.close();
    }
  });

  it("the simulator takes profiles without name or phone from another process, as null", async () => {
    const written = await postJson(`${sim.url}/__driver-profiles/profiles`, {
      profiles: [{ park_id: "park-old", driver_id: "d2", driver_license_pd_id: null }],
    });
    expect(written.status).toBe(200);
    expect(await profiles.bindingsOf("park-old", "d2")).toEqual([
      { park_id: "park-old", driver_id: "d2", driver_license_pd_id: null, phone_pd_id: null, name: null },
    ]);
  });

  it("bindingsOf - from any one profile, every profile of the person (the same licence), that one included, in a stable order", async () => {
    const fromA = await profiles.bindingsOf("park-a", "anna");
    const fromB = await profiles.bindingsOf("park-b", "anna");
    expect(ids(fromA)).toEqual(["park-a/anna", "park-b/anna"]);
    expect(fromB).toEqual(fromA);
    expect(fromA.map((p) => p.phone_pd_id)).toEqual(["phone-anna-a", "phone-anna-b"]);
    expect(ids(await profiles.bindingsOf("park-a", "boris"))).toEqual(["park-a/boris"]);
  });

  it("bindingsOf - a profile without a licence is bound to nothing but itself; an unknown profile has no bindings", async () => {
    sim.upsert([{ park_id: "park-z", driver_id: "unlicensed", driver_license_pd_id: null, name: "Other person" }]);
    expect(ids(await profiles.bindingsOf("park-a", "unlicensed"))).toEqual(["park-a/unlicensed"]);
    expect(await profiles.bindingsOf("park-a", "nobody")).toEqual([]);
  });

  it("bindingsOf - asks the partner every time: a licence linked a moment ago is seen by the next call", async () => {
    sim.upsert([{ park_id: "park-c", driver_id: "vera", driver_license_pd_id: "lic-vera", name: "Вера" }]);
    expect(ids(await profiles.bindingsOf("park-c", "vera"))).toEqual(["park-c/vera"]);
    sim.upsert([{ park_id: "park-d", driver_id: "vera2", driver_license_pd_id: "lic-vera", name: "Вера" }]);
    expect(ids(await profiles.bindingsOf("park-c", "vera"))).toEqual(["park-c/vera", "park-d/vera2"]);
    sim.upsert([{ park_id: "park-d", driver_id: "vera2", driver_license_pd_id: null, name: "Вера" }]);
    expect(ids(await profiles.bindingsOf("park-c", "vera"))).toEqual(["park-c/vera"]);
    // Linked again, then moved to another person's licence: bound to that person alone.
    sim.upsert([{ park_id: "park-d", driver_id: "vera2", driver_license_pd_id: "lic-vera", name: "Вера" }]);
    sim.upsert([{ park_id: "park-d", driver_id: "vera2", driver_license_pd_id: "lic-boris", name: "Вера" }]);
    expect(ids(await profiles.bindingsOf("park-c", "vera"))).toEqual(["park-c/vera"]);
    expect(ids(await profiles.bindingsOf("park-d", "vera2"))).toEqual(["park-a/boris", "park-d/vera2"]);
  });

  it("bindingsOf - a short outage is ridden out by the retries; a long one is driver_profiles_unavailable", async () => {
    sim.faults.down = true;
    const pending = profiles.bindingsOf("park-a", "anna");
    await until(() => sim.stats.requests >= 2);
    sim.faults.down = false;
    expect(ids(await pending)).toEqual(["park-a/anna", "park-b/anna"]);

    sim.faults.down = true;
    const once = new DriverProfilesClient({ baseUrl: sim.url, timeoutMs: 500, retries: 1, retryBaseMs: 10 });
    const error = await once.bindingsOf("park-a", "anna").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error).toMatchObject({ code: "driver_profiles_unavailable" });
  });

  it("bindingsOf - slower than the timeout is driver_profiles_timeout; an empty id is refused (400), not retried", async () => {
    sim.faults.slowMs = 500;
    const quick = new DriverProfilesClient({ baseUrl: sim.url, timeoutMs: 50, retries: 0 });
    await expect(quick.bindingsOf("park-a", "anna")).rejects.toBeInstanceOf(PartnerTimeoutError);
    sim.faults.slowMs = 0;
    sim.stats.requests = 0;
    const error = await profiles.bindingsOf("park-a", "").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerRejectedError);
    expect(error).toMatchObject({ status: 400, body: { issues: [{ path: "driver_id" }] } });
    expect(sim.stats.requests).toBe(1);
  });
});
