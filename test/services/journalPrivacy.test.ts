// The journal outlives the reasons a snapshot holds personal data: it keeps a hash of a person's
// KRT id and no text written to drivers, while the actors themselves work as before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { personalIdHash } from "../../services/personalIdHash.ts";
import { eventually } from "../support/harness.ts";
import { startTestInstance, type TestInstance } from "../support/instance.ts";
import { addDrivers, asDriver, bind, testDriver } from "./driverStatus.support.ts";

let app: TestInstance;
beforeAll(async () => {
  app = await startTestInstance();
  app.simulators.parks!.addDrivers("park-j", [{ driverId: "j1", workRule: "day", status: "online" }]);
});
afterAll(async () => {
  await app?.close();
});

const journal = () => app.testDb.sql<{ actor_type: string; event: { type: string } & Record<string, unknown> }[]>`select actor_type, event from actor_journal`;

describe("the journal and personal data", () => {
  it("a bind journals a hash of the KRT id, a mailing journals its template and not its text; both actors work", async () => {
    const driver = testDriver({ park: "park-j" });
    await addDrivers(app, [driver]);
    await bind(app, driver);
    expect((await asDriver(app, driver, "GET")).body).toMatchObject({ bound: true });

    const text = "Private words for drivers 7f3e";
    const created = await app.call("POST", "/fleet/communications/v1/mailings", { park: "park-j", body: { message: text } });
    expect(created.status).toBe(202);
    await eventually(
      async () => (await app.call("GET", `/fleet/communications/v1/mailings/${created.body.mailing_id}`, { park: "park-j" })).body.status === "sent",
    );

    const rows = await journal();
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(driver.krtId);
    expect(dump).not.toContain(text);
    const bound = rows.find((r) => r.actor_type === "krt-session" && r.event.type === "bind");
    expect(bound?.event.deptrans_id).toBe(personalIdHash(driver.krtId));
    const create = rows.find((r) => r.actor_type === "mailing" && r.event.type === "create");
    expect(create?.event).toMatchObject({ template_id: created.body.template_id });
    expect(create?.event).not.toHaveProperty("message");
  });
});
