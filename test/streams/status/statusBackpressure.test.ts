// Backpressure on real JetStream: while the session actors do not commit (tells hang), the
// pipeline holds at most the consumer's ack limit and the rest stays in JetStream; once the
// actors commit again everything is told and acknowledged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStatusStream, type RunningStatusStream } from "../../../streams/status/statusConsumer.ts";
import type { ConnectivityChange } from "../../../streams/status/statusMessages.ts";
import { pointIn } from "../../../integrations/trackstory/index.ts";
import { eventually, silentLogger } from "../../support/harness.ts";
import { NATS_URL, statusNamespace, type StatusNamespace } from "./statusStream.support.ts";

describe.each(["worker", "main"] as const)("backpressure, ingest on the %s thread", (ingest) => {
  let ns: StatusNamespace;
  let running: RunningStatusStream | undefined;
  beforeAll(async () => {
    ns = await statusNamespace();
  });
  afterAll(async () => {
    await running?.stop();
    await ns?.close();
  });

  it("with actors stalled, at most max_ack_pending statuses are taken; the rest waits in JetStream and flows once they commit", async () => {
    const MAX_ACK_PENDING = 40;
    let release!: () => void;
    const actorsBack = new Promise<void>((r) => (release = r));
    const told: ConnectivityChange[] = [];
    running = await runStatusStream({
      natsUrl: NATS_URL,
      connectionName: "backpressure-test",
      ingest,
      names: ns.names,
      limits: { maxAckPending: MAX_ACK_PENDING, ackWaitMs: 30_000, pullBatch: 10, maxAgeMs: 3_600_000, maxFutureSkewMs: 300_000 },
      sources: {
        profiles: { licenceOf: (driver) => `pd-${driver.split("/")[1]}`, refreshNow: async () => {} },
        categoriesOf: () => ["econom"],
        positions: async (drivers) => new Map(drivers.map((d) => [`${d.park_id}/${d.driver_id}`, pointIn("moscow")])),
        tell: async (change) => {
          await actorsBack;
          told.push(change);
        },
      },
      options: {
        categories: ["econom"],
        regions: ["moscow"],
        debounceMs: 0,
        maxDelayMs: 10,
        dropRepeats: true,
        tellConcurrency: 8,
        lookupConcurrency: 2,
        lookupBatchSize: 100,
        retryBaseMs: 50,
        retryMaxMs: 200,
        memoryCapacity: 10_000,
        missRefreshMs: 1_000,
        count: () => {},
        now: Date.now,
      },
      logger: silentLogger,
    });
    const t = Date.now();
    for (let i = 0; i < 300; i++) await ns.publish({ park_id: "p", driver_id: `d${i}`, status: "online", updated_at: t });
    await eventually(() => running!.outstanding() >= MAX_ACK_PENDING);
    await new Promise((r) => setTimeout(r, 500));
    expect(running.outstanding()).toBe(MAX_ACK_PENDING);
    expect(told).toHaveLength(0);
    release();
    await eventually(() => told.length === 300, 15_000);
    await eventually(() => ns.consumerDrained());
    expect(running.outstanding()).toBe(0);
  });
});
