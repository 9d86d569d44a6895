// Binds against a slow KRT and a flood of binds: the request deadline (REQUEST_TIMEOUT_MS) answers
// 504 and lets the bind finish behind it, its Idempotency-Key replaying the outcome; the KRT rate
// limit's bounded queue (KRT_QUEUE_MAX, KRT_QUEUE_WAIT_MS) refuses what cannot wait with 503 krt_busy.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config.ts";
import { noFaults } from "../../integrations/index.ts";
import { eventually } from "../support/harness.ts";
import { startTestInstance, TOKENS, type TestInstance } from "../support/instance.ts";
import { addDrivers, asDriver, bind, testDriver, type TestDriver } from "./driverStatus.support.ts";

const bindWithKey = (app: TestInstance, d: TestDriver, key: string) =>
  app.call("POST", "/driver/v1/deptrans-status/v1/id", {
    token: TOKENS.driver,
    headers: { "x-yataxi-park-id": d.park_id, "x-yataxi-driver-profile-id": d.driver_id, "idempotency-key": key },
    body: { deptrans_id: d.krtId },
  });

describe("request deadline", () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await startTestInstance({ REQUEST_TIMEOUT_MS: "600", ASK_TIMEOUT_MS: "300", PARTNER_TIMEOUT_MS: "20000", PARTNER_RETRIES: "0" });
  });
  afterAll(async () => {
    await app?.close();
  });
  afterEach(() => {
    Object.assign(app.simulators.krt!.faults, noFaults());
  });

  it("a bind KRT answers only after the deadline is 504 request_timeout; it completes behind it, once, and its key replays the outcome", async () => {
    const [warm, d] = [testDriver({ tag: "dl" }), testDriver({ tag: "dl" })];
    await addDrivers(app, [warm, d]);
    await bind(app, warm); // the KRT token in hand: only the check is slow
    const krt = app.simulators.krt!;
    krt.faults.slowMs = 3_000;
    const before = krt.stats.requests;
    const started = performance.now();
    const first = await bindWithKey(app, d, "bind-slow");
    expect(first.status).toBe(504);
    expect(first.body.code).toBe("request_timeout");
    expect(performance.now() - started).toBeLessThan(3_000);
    const meanwhile = await bindWithKey(app, d, "bind-slow");
    expect([meanwhile.status, meanwhile.body.code]).toEqual([409, "request_in_progress"]);
    const replayed = await eventually(async () => {
      const res = await bindWithKey(app, d, "bind-slow");
      return res.status === 200 ? res : undefined;
    });
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect((await asDriver(app, d, "GET")).body.bound).toBe(true);
    expect(krt.stats.requests - before).toBe(1);
  });

  it("REQUEST_TIMEOUT_MS not longer than ASK_TIMEOUT_MS is refused at start, naming it", async () => {
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: "5000", ASK_TIMEOUT_MS: "5000" })).toThrow(/REQUEST_TIMEOUT_MS: must be longer than ASK_TIMEOUT_MS/);
  });
});

describe("KRT rate limit queue", () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await startTestInstance({ KRT_RATE_LIMIT_PER_S: "2", KRT_QUEUE_MAX: "3", KRT_QUEUE_WAIT_MS: "600000" });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("a flood of 20 binds beyond the queue: those that cannot wait are 503 krt_busy and bind nothing, the others bind; a refused one binds on retry", async () => {
    const drivers = Array.from({ length: 21 }, () => testDriver({ tag: "flood" }));
    await addDrivers(app, drivers);
    await bind(app, drivers[0]!); // the KRT token in hand
    const flood = drivers.slice(1);
    const answers = await Promise.all(flood.map((d) => asDriver(app, d, "POST", { deptrans_id: d.krtId })));
    const seen = answers.map((a) => `${a.status} ${a.body?.code ?? ""}`.trim());
    expect(
      seen.filter((s) => s !== "200" && s !== "503 krt_busy"),
      seen.join(", "),
    ).toEqual([]);
    const refused = flood.filter((_, i) => answers[i]!.status === 503);
    // One token at once and three waiting; a few more tokens accrue while the flood arrives.
    expect(refused.length).toBeGreaterThanOrEqual(12);
    for (const [i, d] of flood.entries()) expect((await asDriver(app, d, "GET")).body.bound).toBe(answers[i]!.status === 200);
    const again = refused[0]!;
    await eventually(async () => (await asDriver(app, again, "POST", { deptrans_id: again.krtId })).status === 200);
    expect((await asDriver(app, again, "GET")).body.bound).toBe(true);
  });
});
