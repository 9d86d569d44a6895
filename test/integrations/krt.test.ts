// The KRT client against its simulator: the token shared through Postgres by two clients (two
// instances), refreshed before expiry and after a 401 by one refresh, the licence check, session
// answers, refusals and the per-instance rate limit.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { noFaults, PartnerRejectedError, PartnerUnavailableError } from "../../integrations/index.ts";
import { KrtClient, memoryTokenStore, startKrtSimulator, type KrtSimulator } from "../../integrations/krt/index.ts";
import { postgresTokenStore } from "../../services/driverStatus/krtTokenStore.ts";
import { testDatabase, type TestDatabase } from "../support/harness.ts";

let sim: KrtSimulator;
let db: TestDatabase;
let clock = Date.now();
const now = () => clock;

beforeAll(async () => {
  sim = await startKrtSimulator({ tokenTtlMs: 600_000, now });
  db = await testDatabase("krt");
  sim.register("1000000001", "77AA000001");
  sim.register("1000000002", "77AA000002");
});
afterAll(async () => {
  await sim.close();
  await db.drop();
});
beforeEach(() => {
  Object.assign(sim.faults, noFaults());
});

const client = (over: Partial<ConstructorParameters<typeof KrtClient>[0]> = {}) =>
  new KrtClient({
    baseUrl: sim.url,
    timeoutMs: 500,
    retries: 0,
    clientId: "fleet",
    clientSecret: "fleet-secret",
    tokens: postgresTokenStore(db.sql),
    refreshMarginMs: 60_000,
    now,
    ...over,
  });

describe("krt", () => {
  it("checkId - true for the licence KRT holds the id under, false for another", async () => {
    const krt = client();
    expect(await krt.checkId("1000000001", "77AA000001")).toBe(true);
    expect(await krt.checkId("1000000001", "77AA000002")).toBe(false);
    expect(await krt.checkId("9999999999", "77AA000001")).toBe(false);
  });

  it("sendConnectivity - a connect opens a shift with its end, a disconnect pauses it; an unknown id is refused", async () => {
    const krt = client();
    const open = await krt.sendConnectivity({ id: "1000000002", connected: true, at: clock });
    expect(open.status).toBe("active");
    expect(Date.parse(open.ended_at!)).toBeGreaterThan(clock);
    expect(await krt.sendConnectivity({ id: "1000000002", connected: false, at: clock + 1 })).toEqual({ status: "paused", ended_at: open.ended_at });
    await expect(krt.sendConnectivity({ id: "1234567890", connected: true, at: clock })).rejects.toBeInstanceOf(PartnerRejectedError);
  });

  it("token - two instances share one token through Postgres: the second never asks KRT for one", async () => {
    const before = sim.krtStats.tokensIssued;
    const shared = () => client({ tokens: postgresTokenStore(db.sql, { name: "shared-by-two" }) });
    await shared().checkId("1000000001", "77AA000001");
    await shared().checkId("1000000001", "77AA000001");
    expect(sim.krtStats.tokensIssued - before).toBe(1);
  });

  it("token - after KRT dropped every token, 50 concurrent calls on two instances cause ONE refresh, and all succeed", async () => {
    const [a, b] = [client(), client()];
    await Promise.all([a.checkId("1000000001", "77AA000001"), b.checkId("1000000001", "77AA000001")]);
    sim.expireTokens();
    const before = sim.krtStats.tokensIssued;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).checkId("1000000001", "77AA000001")));
    expect(results.every(Boolean)).toBe(true);
    expect(sim.krtStats.tokensIssued - before).toBe(1);
  });

  it("token - refreshed before it expires: once inside the margin one call triggers one refresh and nobody sees a 401", async () => {
    const krt = client();
    await krt.checkId("1000000001", "77AA000001");
    const before = sim.krtStats.tokensIssued;
    clock += 600_000 - 30_000; // 30 s left, inside the 60 s margin
    await Promise.all(Array.from({ length: 20 }, () => krt.checkId("1000000001", "77AA000001")));
    await new Promise((r) => setTimeout(r, 100)); // the background refresh lands
    expect(sim.krtStats.tokensIssued - before).toBe(1);
    clock += 40_000; // the old token has expired now
    expect(await krt.checkId("1000000001", "77AA000001")).toBe(true);
    expect(sim.krtStats.tokensIssued - before).toBe(1);
  });

  it("token - with the in-memory store concurrent first calls also share one token", async () => {
    const krt = client({ tokens: memoryTokenStore() });
    const before = sim.krtStats.tokensIssued;
    await Promise.all(Array.from({ length: 20 }, () => krt.checkId("1000000001", "77AA000001")));
    expect(sim.krtStats.tokensIssued - before).toBe(1);
  });

  it("outages - down, 500s and 429 are krt_unavailable; credentials KRT refuses are too", async () => {
    const krt = client();
    for (const fault of [{ down: true }, { errorRate: 1 }, { rateLimit: true }]) {
      Object.assign(sim.faults, noFaults(), fault);
      const error = await krt.sendConnectivity({ id: "1000000001", connected: true, at: clock }).catch((e) => e);
      expect(error, JSON.stringify(fault)).toBeInstanceOf(PartnerUnavailableError);
      expect(error.code).toBe("krt_unavailable");
    }
    Object.assign(sim.faults, noFaults());
    const wrong = client({ clientSecret: "wrong", tokens: memoryTokenStore() });
    const error = await wrong.checkId("1000000001", "77AA000001").catch((e) => e);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error.code).toBe("krt_unavailable");
  });

  it("rate limit - calls beyond the per-instance rate wait their turn instead of failing", async () => {
    const krt = client({ ratePerSecond: 50 });
    await krt.checkId("1000000001", "77AA000001"); // token in hand
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 40 }, () => krt.checkId("1000000001", "77AA000001")));
    expect(results.every(Boolean)).toBe(true);
    // 40 calls at 50/s with a burst of 5 take at least (40 - 5) / 50 s.
    expect(performance.now() - started).toBeGreaterThanOrEqual(600);
  });

  it("rate limit - every attempt takes a token, the client's own retries included: under 5xx the calls stay within the cap", async () => {
    const krt = client({ ratePerSecond: 20, retries: 2, retryBaseMs: 1, maxDelayMs: 1 });
    await krt.checkId("1000000001", "77AA000001"); // token in hand
    sim.faults.errorRate = 1; // every answer a 500: each call makes 3 attempts
    const before = sim.stats.requests;
    const started = performance.now();
    await Promise.all(Array.from({ length: 10 }, () => krt.checkId("1000000001", "77AA000001").catch(() => undefined)));
    const attempts = sim.stats.requests - before;
    expect(attempts).toBe(30);
    // 30 attempts at 20/s with a burst of 2 take at least (30 - 2) / 20 s; with one token per call they took ~0.4 s.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_300);
  });

  it("rate limit - a report whose reporter gave up while it waited its turn is never sent, and takes no turn from those behind it", async () => {
    const krt = client({ ratePerSecond: 20 });
    await krt.checkId("1000000001", "77AA000001"); // token in hand; the burst (2) is spent below
    sim.clearCalls();
    const reporters = Array.from({ length: 6 }, () => new AbortController());
    const reports = reporters.map((reporter, i) =>
      krt.sendConnectivity({ id: "1000000002", connected: i % 2 === 0, at: clock + i }, reporter.signal).then(
        () => "sent",
        (error: unknown) => (reporter.signal.aborted ? "gave up" : String(error)),
      ),
    );
    await vi.waitFor(() => expect(krt.waiting).toBeGreaterThanOrEqual(3)); // the last three at least, in order
    reporters[3]!.abort(new Error("actor stopped"));
    reporters[4]!.abort(new Error("actor stopped"));
    expect(await Promise.all(reports)).toEqual(["sent", "sent", "sent", "gave up", "gave up", "sent"]);
    expect(krt.waiting).toBe(0);
    expect(sim.calls().map((c) => c.at - clock)).toEqual([0, 1, 2, 5]);
  });
});
