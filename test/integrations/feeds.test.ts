import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults, PartnerRejectedError } from "../../integrations/index.ts";
import { FeedsClient, startFeedsSimulator, type FeedBatch, type FeedsSimulator } from "../../integrations/feeds/index.ts";
import { postJson, until } from "./support.ts";

let sim: FeedsSimulator;
let feeds: FeedsClient;
beforeAll(async () => {
  sim = await startFeedsSimulator();
  feeds = new FeedsClient({ baseUrl: sim.url, timeoutMs: 1_000, retries: 20, retryBaseMs: 10, maxDelayMs: 50 });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  Object.assign(sim.faults, noFaults());
  sim.stats.requests = 0;
});

let keys = 0;
const batch = (recipients: string[], message = "Fuel is 10% off tonight"): FeedBatch => ({
  idempotencyKey: `mailing-1:${++keys}`,
  parkId: "park-1",
  recipients,
  message,
});
const deliveriesOf = (key: string) => sim.deliveries().filter((d) => d.idempotency_key === key);

describe("feeds", () => {
  it("publish delivers the message once to each distinct recipient", async () => {
    const b = batch(["d1", "d2", "d1"]);
    const result = await feeds.publish(b);
    expect(result).toEqual({ feedId: expect.any(String), delivered: 2 });
    expect(deliveriesOf(b.idempotencyKey)).toEqual([
      { idempotency_key: b.idempotencyKey, park_id: "park-1", recipient: "d1", message: b.message },
      { idempotency_key: b.idempotencyKey, park_id: "park-1", recipient: "d2", message: b.message },
    ]);
  });

  it("a repeated idempotency key returns the first answer and delivers nothing again", async () => {
    const b = batch(["d1", "d2", "d3"]);
    const first = await feeds.publish(b);
    const again = await feeds.publish(b);
    expect(again).toEqual(first);
    expect(deliveriesOf(b.idempotencyKey)).toHaveLength(3);
  });

  it("reusing a key for a different batch is rejected with 409 and not retried", async () => {
    const b = batch(["d1"]);
    await feeds.publish(b);
    sim.stats.requests = 0;
    const error = await feeds.publish({ ...b, message: "something else" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerRejectedError);
    expect(error).toMatchObject({ code: "feeds_rejected", status: 409, body: { code: "idempotency_key_reused" } });
    expect(sim.stats.requests).toBe(1);
  });

  it("a batch that meets injected 500s is retried and delivered exactly once", async () => {
    sim.faults.errorRate = 1;
    const b = batch(["d7", "d8"]);
    const published = feeds.publish(b);
    await until(() => sim.stats.requests >= 2);
    sim.faults.errorRate = 0;
    expect(await published).toMatchObject({ delivered: 2 });
    expect(deliveriesOf(b.idempotencyKey)).toHaveLength(2);
  });

  it("GET /__deliveries lists the deliveries for another process", async () => {
    const b = batch(["d9"]);
    await feeds.publish(b);
    const { deliveries } = (await (await fetch(`${sim.url}/__deliveries`)).json()) as { deliveries: unknown[] };
    expect(deliveries).toContainEqual({ idempotency_key: b.idempotencyKey, park_id: "park-1", recipient: "d9", message: b.message });
  });

  it("the simulator answers 400 with the field path for an empty recipient list", async () => {
    const bad = await postJson(`${sim.url}/v1/feeds/publish`, { idempotency_key: "k", park_id: "p", recipients: [], message: "hi" });
    expect(bad.status).toBe(400);
    expect(bad.json.issues.map((i: { path: string }) => i.path)).toEqual(["recipients"]);
  });
});
