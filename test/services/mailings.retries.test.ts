// Exactly once under client retries: a client that retries every 5xx with the same
// Idempotency-Key, against an instance whose asks time out while the actors still commit, gets
// one mailing per key; a key whose attempt crashed after claiming it is taken over after its lease.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { startTestInstance, type TestInstance } from "../support/instance.ts";

const MAILINGS = "/fleet/communications/v1/mailings";
const DRIVERS = 12;
let app: TestInstance;

beforeAll(async () => {
  // 15 ms: most first attempts answer 504 while their actor goes on and commits.
  app = await startTestInstance({ ASK_TIMEOUT_MS: "15", IDEMPOTENCY_LEASE_MS: "400", MAILING_BATCH_SIZE: "5" });
  app.simulators.parks!.addDrivers(
    "park-r",
    Array.from({ length: DRIVERS }, (_, i) => ({ driverId: `r${i}`, workRule: "default", status: "online" as const })),
  );
});
afterAll(async () => {
  await app?.close();
});

/** POSTs until a 2xx, retrying every 5xx and 409 request_in_progress with the same key; returns the answer and the attempts. */
async function createUntilAcknowledged(key: string, message: string) {
  for (let attempt = 1; attempt <= 200; attempt++) {
    const res = await app.call("POST", MAILINGS, { park: "park-r", headers: { "idempotency-key": key }, body: { message } });
    if (res.status < 300) return { body: res.body, attempts: attempt };
    if (res.status < 500 && res.body.code !== "request_in_progress") throw new Error(`${key}: ${res.status} ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${key}: never acknowledged`);
}

describe("mailings: retries", () => {
  it("50 keys, every 5xx retried with its key under a 15 ms ask timeout: exactly one mailing per key, each driver messaged once", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => createUntilAcknowledged(`retry-${i}`, `retry ${i}`)));
    const retried = results.filter((r) => r.attempts > 1).length;
    expect(retried).toBeGreaterThan(0); // the timeouts really happened
    const ids = new Set(results.map((r) => r.body.mailing_id));
    expect(ids.size).toBe(50);

    const rows = await app.testDb.sql<{ id: string; message: string }[]>`
      select m.id, t.message from mailings m join mailing_templates t on t.id = m.template_id where m.park_id = 'park-r'`;
    expect(rows).toHaveLength(50);
    expect(new Set(rows.map((r) => r.id))).toEqual(ids);
    const templates = await app.testDb.sql`select id from mailing_templates where park_id = 'park-r'`;
    expect(templates).toHaveLength(50);

    await eventually(async () => (await app.testDb.sql`select 1 from mailings where park_id = 'park-r' and status = 'sent'`).length === 50, 20_000);
    const deliveries = app.simulators.feeds!.deliveries().filter((d) => d.park_id === "park-r");
    expect(deliveries).toHaveLength(50 * DRIVERS);
    expect(new Set(deliveries.map((d) => `${d.message}/${d.recipient}`)).size).toBe(50 * DRIVERS);
  }, 60_000);

  it("a retry after the mailing finished gets the first answer, not a conflict", async () => {
    const first = await createUntilAcknowledged("done-once", "finished before the retry");
    await eventually(async () => (await app.call("GET", `${MAILINGS}/${first.body.mailing_id}`, { park: "park-r" })).body.status === "sent", 10_000);
    // The stored answer is replayed; without it (pruned), the actor's own first answer.
    await app.testDb.sql`delete from idempotency_keys where key = 'done-once'`;
    const again = await createUntilAcknowledged("done-once", "finished before the retry");
    expect(again.body).toEqual({ mailing_id: first.body.mailing_id, template_id: first.body.template_id, status: "created" });
    expect((await app.testDb.sql`select 1 from mailings where id = ${first.body.mailing_id}`).length).toBe(1);
  });

  it("a crash between claiming the key and completing it: the retry is refused while the claim lives, then runs once", async () => {
    // The state a killed attempt leaves: the key claimed, no answer, the lease running.
    const body = { message: "after a crash" };
    const scope = `${JSON.stringify({ role: "fleet", park_id: "park-r", uid: "1001" })} post ${MAILINGS}`;
    const hash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
    await app.testDb.sql`insert into idempotency_keys (scope, key, request_hash, claimed_until)
      values (${scope}, 'crashed', ${hash}, now() + interval '400 milliseconds')`;

    const during = await app.call("POST", MAILINGS, { park: "park-r", headers: { "idempotency-key": "crashed" }, body });
    expect(during.status).toBe(409);
    expect(during.body.code).toBe("request_in_progress");
    await new Promise((r) => setTimeout(r, 450));
    const after = await createUntilAcknowledged("crashed", body.message);
    const replay = await app.call("POST", MAILINGS, { park: "park-r", headers: { "idempotency-key": "crashed" }, body });
    expect(replay.body).toEqual(after.body);
    const rows = await app.testDb.sql`select 1 from mailings m join mailing_templates t on t.id = m.template_id where t.message = 'after a crash'`;
    expect(rows).toHaveLength(1);
  });
});
