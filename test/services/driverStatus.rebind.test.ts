// A driver binding another KRT id while his connectivity is still being reported under the old
// one: the new id must hear it too. (The old report's answer used to clear the report waiting
// for the new id, so KRT never learnt that the new id was connected.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { startTestInstance, type TestInstance } from "../support/instance.ts";
import { addDrivers, asDriver, bind, testDriver } from "./driverStatus.support.ts";

let app: TestInstance;

beforeAll(async () => {
  // The slow report must be answered, not timed out: a failed report was always retried.
  app = await startTestInstance({ PARTNER_TIMEOUT_MS: "20000", PARTNER_RETRIES: "0" });
});
afterAll(async () => {
  await app.close();
});

describe("driver id: rebind", () => {
  it("rebinding while a report to the old id is under way (KRT slow): KRT ends with the new id connected", async () => {
    const d = testDriver();
    await addDrivers(app, [d]);
    const krt = app.simulators.krt!;
    const newId = String(Number(d.krtId) + 1);
    krt.register(newId, d.licenceNumber); // the same person, re-registered under another id
    await bind(app, d);

    const requests = krt.stats.requests;
    krt.faults.slowMs = 3_000;
    await app.system.tell(`krt-session/${d.licence}`, {
      type: "connectivity",
      park_id: d.park_id,
      driver_id: d.driver_id,
      connected: true,
      status_at: Date.now(),
    });
    await eventually(() => krt.stats.requests > requests); // the report to the old id has reached KRT and waits there
    krt.faults.slowMs = 0;
    const rebound = await asDriver(app, d, "POST", { deptrans_id: newId });
    expect(rebound.status).toBe(200);
    expect(krt.calls().some((c) => c.id === d.krtId)).toBe(false); // the old report was still under way

    await eventually(() => krt.calls().some((c) => c.id === newId && c.connected));
    expect(krt.session(newId).status).toBe("active");
    // The report to the old id is abandoned with the state that made it (its request aborted): its
    // slow answer, had it come, would have come by now; nothing of it reaches the new id's session.
    await new Promise((r) => setTimeout(r, 3_500));
    expect(krt.calls().filter((c) => c.id === newId)).toHaveLength(1);
    expect(krt.session(newId).status).toBe("active");
  }, 30_000);
});
