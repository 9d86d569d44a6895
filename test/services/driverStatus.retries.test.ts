// Binds under client retries: asks timing out while the session actors still commit, every 5xx
// retried with the same Idempotency-Key. A bind sets a value, so a repeat changes nothing: every
// driver ends bound once, to his own id, each key answered 200.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockTable } from "../support/harness.ts";
import { startTestInstance, TOKENS, type TestInstance } from "../support/instance.ts";
import { addDrivers, asDriver, testDriver } from "./driverStatus.support.ts";

let app: TestInstance;
beforeAll(async () => {
  app = await startTestInstance({ ASK_TIMEOUT_MS: "15" });
});
afterAll(async () => {
  await app?.close();
});

describe("driver id: retries", () => {
  it("50 binds, every 5xx retried with its key under a 15 ms ask timeout: each driver bound once to his id", async () => {
    const drivers = Array.from({ length: 50 }, () => testDriver({ tag: "retry" }));
    await addDrivers(app, drivers);
    // The journal locked for a while, from a pool of its own: the first commits wait (and only they:
    // the instance's pool stays free), so their asks time out however fast the machine is (on a
    // quiet one all 50 binds had committed inside 15 ms).
    const lock = await lockTable((await app.testDb.reopen()).sql, "actor_journal");
    const released = new Promise((r) => setTimeout(r, 300)).then(() => lock.release());
    const binds = Promise.all(
      drivers.map(async (d) => {
        for (let attempt = 1; attempt <= 300; attempt++) {
          const res = await app.call("POST", "/driver/v1/deptrans-status/v1/id", {
            token: TOKENS.driver,
            headers: { "x-yataxi-park-id": d.park_id, "x-yataxi-driver-profile-id": d.driver_id, "idempotency-key": `bind-${d.driver_id}` },
            body: { deptrans_id: d.krtId },
          });
          if (res.status === 200) return attempt;
          if (res.status < 500 && res.body.code !== "request_in_progress") throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        throw new Error(`${d.driver_id}: never acknowledged`);
      }),
    );
    const [attempts] = await Promise.all([binds, released]);
    expect(attempts.some((n) => n > 1)).toBe(true); // the timeouts really happened
    for (const d of drivers) expect((await asDriver(app, d, "GET")).body.bound).toBe(true);
    const rows = await app.testDb.sql<{ n: number }[]>`
      select count(*)::int as n from actor_snapshots where actor_type = 'krt-session' and actor_id = any(${drivers.map((d) => d.licence)}::text[])
        and snapshot->'context'->>'deptrans_id' is not null`;
    expect(rows[0]!.n).toBe(50);
  }, 60_000);
});
