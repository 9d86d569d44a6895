// The MQTT broker goes away (its process killed, the shared Mosquitto untouched): no broker, no
// issue or return (seed), so bookings and opens answer 503 mqtt_unavailable, while the instance
// stays ready and every other service keeps serving; once the broker is back, bookings work again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  h = await startCabinetHarness();
});
afterAll(async () => {
  await h?.close();
});

const ready = async () => h.app.call("GET", "/ready", { token: TOKENS.admin });

describe("cabinets: MQTT broker down", () => {
  it("bookings and open answer 503 mqtt_unavailable, /ready stays 200 reporting MQTT down, other services serve; after the broker returns bookings work again", async () => {
    await h.cabinet(cabinetSpec("CAB-OUT", { cells: 6, charged: 3 }));
    const before = await h.book("CAB-OUT", { kind: "issue", count: 1, contractor_id: "tech-o" });
    expect(before.status).toBe(201);
    expect((await ready()).body.services.cabinets).toEqual({ mqtt: "ok" });

    await h.broker.stop();
    const down = await eventually(async () => {
      const r = await ready();
      return r.body.services.cabinets.mqtt.startsWith("down") ? r : undefined;
    });
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ status: "ready", checks: { database: "ok" } });
    expect(down.body.services.cabinets.mqtt).toMatch(/MQTT broker is not reachable/);

    for (const kind of ["issue", "return"] as const) {
      const refused = await h.book("CAB-OUT", { kind, count: 1, contractor_id: "tech-o" });
      expect(refused.status, kind).toBe(503);
      expect(refused.body.code, kind).toBe("mqtt_unavailable");
    }
    const open = await h.open("CAB-OUT", before.body.booking_id);
    expect(open.status).toBe(503);
    expect(open.body.code).toBe("mqtt_unavailable");
    // Nothing was booked by the refusals, nothing moved by the open.
    const cabinet = (await h.call("GET", "/cabinets/CAB-OUT")).body;
    expect(cabinet.bookings).toMatchObject([{ booking_id: before.body.booking_id, status: "booked" }]);
    expect((await h.call("GET", "/accumulators/CAB-OUT-A1")).body).toMatchObject({ location: "cabinet" });

    // Every other service keeps serving, reads and writes.
    const mailing = await h.app.call("POST", "/fleet/communications/v1/mailings", { park: "park-o", body: { message: "broker down" } });
    expect(mailing.status).toBe(202);
    const customer = await h.app.call("PUT", "/fleet/customers/v1/customers", { park: "park-o", body: { phone: "+79161234567" } });
    expect(customer.status).toBe(201);
    h.app.simulators.driverProfiles!.upsert([{ park_id: "park-o", driver_id: "d-o", driver_license_pd_id: "pd-o" }]);
    await h.app.services.driverStatus.refreshCaches();
    const driver = await h.app.call("GET", "/driver/v1/deptrans-status/v1/id", {
      token: TOKENS.driver,
      headers: { "x-yataxi-park-id": "park-o", "x-yataxi-driver-profile-id": "d-o" },
    });
    expect(driver.status).toBe(200);

    await h.broker.start();
    await eventually(async () => (await ready()).body.services.cabinets.mqtt === "ok");
    // The simulated cabinet reconnects on its own schedule: until it answers a poll again the
    // cabinet may be unresponsive for a moment (503 cabinet_unresponsive), so retry the booking.
    const after = await eventually(async () => {
      const r = await h.book("CAB-OUT", { kind: "issue", count: 1, contractor_id: "tech-o" });
      return r.status === 201 ? r : undefined;
    });
    expect(after.body.accumulators).toHaveLength(1);
    const opened = await eventually(async () => {
      const r = await h.open("CAB-OUT", before.body.booking_id);
      return r.status === 200 ? r : undefined;
    });
    expect(opened.body.cells).toEqual([{ cell: 1, accumulator_id: "CAB-OUT-A1" }]);
    expect((await h.call("GET", "/accumulators/CAB-OUT-A1")).body).toMatchObject({ location: "contractor", contractor_id: "tech-o" });
  }, 60_000);
});
