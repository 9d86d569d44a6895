import { Schema } from "effect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createJsonClient,
  noFaults,
  PartnerProtocolError,
  PartnerRejectedError,
  PartnerTimeoutError,
  PartnerUnavailableError,
  startSimulator,
  type JsonClientOptions,
  type Simulator,
} from "../../integrations/index.ts";
import { postJson, refusingUrl, until } from "./support.ts";

const Echo = Schema.Struct({ echoed: Schema.String });

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({
    name: "echo",
    routes: (app) => {
      app.post("/v1/echo", async (req, res) => res.json({ echoed: String((await req.json(null))?.text) }));
      app.get("/v1/off-contract", (_req, res) => res.json({ echoed: 42 }));
      // Larger than undici's buffer: unread, it would hold its connection.
      app.get("/v1/big-failure", (_req, res) => res.status(500).json({ code: "big", message: "x".repeat(256 * 1024) }));
    },
  });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  Object.assign(sim.faults, noFaults());
  sim.stats.requests = 0;
});

const client = (options: Partial<JsonClientOptions> = {}) =>
  createJsonClient({ system: "echo", baseUrl: sim.url, timeoutMs: 1_000, retries: 3, retryBaseMs: 10, maxDelayMs: 50, ...options });

describe("createJsonClient", () => {
  it("sends JSON and returns the body decoded by the schema", async () => {
    await expect(client().request("POST", "/v1/echo", { text: "hi" }, Echo)).resolves.toEqual({ echoed: "hi" });
  });

  it("retries through a partner that is down and succeeds once it is back", async () => {
    sim.faults.down = true;
    const answer = client({ retries: 20 }).request("POST", "/v1/echo", { text: "back" }, Echo);
    await until(() => sim.stats.requests >= 2);
    sim.faults.down = false;
    await expect(answer).resolves.toEqual({ echoed: "back" });
    expect(sim.stats.requests).toBeGreaterThanOrEqual(3);
  });

  it("retries through injected 500s and succeeds once they stop", async () => {
    sim.faults.errorRate = 1;
    const answer = client({ retries: 20 }).request("POST", "/v1/echo", { text: "ok" }, Echo);
    await until(() => sim.stats.requests >= 2);
    sim.faults.errorRate = 0;
    await expect(answer).resolves.toEqual({ echoed: "ok" });
  });

  it("gives PartnerUnavailableError with the last status when the partner stays down past the retries", async () => {
    sim.faults.down = true;
    const error = await client({ retries: 2 })
      .request("POST", "/v1/echo", {}, Echo)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error).toMatchObject({ code: "echo_unavailable", status: 503 });
    expect(sim.stats.requests).toBe(3);
  });

  it("gives PartnerUnavailableError after retries when every answer is 429", async () => {
    sim.faults.rateLimit = true;
    const error = await client({ retries: 1 })
      .request("POST", "/v1/echo", {}, Echo)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "PartnerUnavailableError", status: 429, retryAfterMs: 1_000 });
    expect(sim.stats.requests).toBe(2);
  });

  it("waits for the partner's Retry-After before trying again", async () => {
    sim.faults.rateLimit = true;
    const answer = client({ retries: 1, retryBaseMs: 10, maxDelayMs: 5_000 }).request("POST", "/v1/echo", { text: "later" }, Echo);
    await until(() => sim.stats.requests === 1);
    // Its own backoff (10 ms) would have retried long ago; Retry-After (1 s) holds it back.
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.stats.requests).toBe(1);
    sim.faults.rateLimit = false;
    await expect(answer).resolves.toEqual({ echoed: "later" });
  });

  it("gives PartnerTimeoutError when every attempt outlasts the timeout", async () => {
    sim.faults.slowMs = 300;
    const error = await client({ timeoutMs: 50, retries: 1 })
      .request("POST", "/v1/echo", {}, Echo)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerTimeoutError);
    expect(error).toMatchObject({ code: "echo_timeout", timeoutMs: 50 });
    expect(sim.stats.requests).toBe(2);
  });

  it("gives PartnerUnavailableError when nothing listens", async () => {
    const error = await client({ baseUrl: await refusingUrl(), retries: 1 })
      .request("GET", "/v1/echo", undefined, Echo)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error).toMatchObject({ status: undefined });
  });

  it("treats a dropped connection as unavailable and retries it", async () => {
    sim.faults.dropRate = 1;
    const error = await client({ retries: 2 })
      .request("POST", "/v1/echo", {}, Echo)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(sim.stats.requests).toBe(3);
  });

  it("does not retry a 4xx and gives PartnerRejectedError with the status and body", async () => {
    sim.faults.unauthorized = true;
    const error = await client()
      .request("POST", "/v1/echo", {}, Echo)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerRejectedError);
    expect(error).toMatchObject({ code: "echo_rejected", status: 401, body: { code: "unauthorized" } });
    expect(sim.stats.requests).toBe(1);
  });

  it("does not retry an answer off contract and names the field in PartnerProtocolError", async () => {
    const error = await client()
      .request("GET", "/v1/off-contract", undefined, Echo)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerProtocolError);
    expect((error as Error).message).toContain("echoed");
    expect(sim.stats.requests).toBe(1);
  });

  it("releases its connection on every path: timeouts, dropped connections, 5xx and 4xx leave it usable", async () => {
    // One connection: a body left unread or an aborted request that held its socket would block the next call.
    const one = client({ connections: 1, timeoutMs: 250, retries: 0 });
    sim.faults.slowMs = 600;
    await expect(one.request("POST", "/v1/echo", {}, Echo)).rejects.toBeInstanceOf(PartnerTimeoutError);
    sim.faults.slowMs = 0;
    sim.faults.dropRate = 1;
    await expect(one.request("POST", "/v1/echo", {}, Echo)).rejects.toBeInstanceOf(PartnerUnavailableError);
    sim.faults.dropRate = 0;
    sim.faults.errorRate = 1;
    await expect(one.request("POST", "/v1/echo", {}, Echo)).rejects.toBeInstanceOf(PartnerUnavailableError);
    sim.faults.errorRate = 0;
    sim.faults.unauthorized = true;
    await expect(one.request("POST", "/v1/echo", {}, Echo)).rejects.toBeInstanceOf(PartnerRejectedError);
    sim.faults.unauthorized = false;
    await expect(one.request("GET", "/v1/off-contract", undefined, Echo)).rejects.toBeInstanceOf(PartnerProtocolError);
    await expect(one.request("GET", "/v1/big-failure", undefined, Echo)).rejects.toMatchObject({ status: 500 });
    // One after another: each has its own budget (queued behind the others, the last ones could outlast it).
    for (let i = 0; i < 10; i++) {
      await expect(one.request("POST", "/v1/echo", { text: `n${i}` }, Echo)).resolves.toEqual({ echoed: `n${i}` });
    }
    await one.close();
  });

  it("an aborted call stops retrying at once and rejects with the signal's reason, even while it waits out a backoff", async () => {
    sim.faults.down = true;
    const calls: string[] = [];
    const patient = client({ retries: 1_000, retryBaseMs: 60_000, maxDelayMs: 60_000, observe: (c) => calls.push(c.outcome) });
    const caller = new AbortController();
    const answer = patient.request("POST", "/v1/echo", { text: "never" }, Echo, { signal: caller.signal }).catch((e: unknown) => e);
    await until(() => sim.stats.requests === 1);
    const reason = new Error("the actor stopped");
    caller.abort(reason);
    expect(await answer).toBe(reason);
    expect(calls).toEqual(["aborted"]);
    expect(sim.stats.requests).toBe(1);
  });

  it("a call given an already aborted signal sends nothing", async () => {
    const answer = client().request("POST", "/v1/echo", { text: "late" }, Echo, { signal: AbortSignal.abort() });
    await expect(answer).rejects.toMatchObject({ name: "AbortError" });
    expect(sim.stats.requests).toBe(0);
  });

  it("keeps the path of a baseUrl that has one", async () => {
    const prefixed = client({ baseUrl: `${sim.url}/v1/` });
    await expect(prefixed.request("POST", "/echo", { text: "p" }, Echo)).resolves.toEqual({ echoed: "p" });
    await prefixed.close();
  });
});

describe("simulator fault switches over HTTP", () => {
  it("POST /__faults sets switches that the next partner request obeys, and reset clears them", async () => {
    expect(await postJson(`${sim.url}/__faults`, { down: true })).toMatchObject({ status: 200, json: { down: true } });
    const res = await fetch(`${sim.url}/v1/echo`, { method: "POST", body: "{}" });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ code: "down", message: "echo is down" });
    expect(await (await fetch(`${sim.url}/__faults`)).json()).toMatchObject({ down: true });
    expect(await postJson(`${sim.url}/__faults/reset`, {})).toMatchObject({ json: noFaults() });
    expect(sim.faults.down).toBe(false);
  });

  it("POST /__faults answers 400 with the field path for an out-of-range switch", async () => {
    const { status, json } = await postJson(`${sim.url}/__faults`, { errorRate: 2 });
    expect(status).toBe(400);
    expect(json.issues).toEqual([{ path: "errorRate", message: expect.any(String) }]);
  });
});
