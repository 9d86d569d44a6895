// The status ingest on a worker thread, on real JetStream: decoded statuses cross to this thread
// with their settle handles, malformed messages are dead-lettered over there and counted here,
// and what is held goes back to JetStream when asked.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { firstValueFrom, take, toArray, type Subscription } from "rxjs";
import type { Worker } from "node:worker_threads";
import { ingestWorker, startIngestWorker, type FromIngest } from "../../../streams/status/statusIngest.ts";
import type { StatusSource, StatusSourceOptions } from "../../../streams/status/statusSource.ts";
import type { DriverStatus, StatusOutcome } from "../../../streams/status/statusMessages.ts";
import { eventually, silentLogger } from "../../support/harness.ts";
import { NATS_URL, statusNamespace, type StatusNamespace } from "./statusStream.support.ts";

let ns: StatusNamespace;
let source: StatusSource | undefined;
let counted: { outcome: StatusOutcome; n: number }[];

const options = (natsUrl = NATS_URL): StatusSourceOptions => ({
  natsUrl,
  connectionName: "ingest-test",
  names: ns.names,
  limits: { maxAckPending: 100, ackWaitMs: 30_000, pullBatch: 10, maxAgeMs: 3_600_000, maxFutureSkewMs: 300_000 },
  logger: silentLogger,
  count: (outcome, n = 1) => void counted.push({ outcome, n }),
});

beforeEach(async () => {
  ns = await statusNamespace();
  counted = [];
});
afterEach(async () => {
  await source?.stop();
  source = undefined;
  await ns.close();
});

const take$ = (s: StatusSource, n: number) => firstValueFrom(s.statuses.pipe(take(n), toArray()));

/** Short ack wait, so that what a dead worker held comes again within a test. */
const deathLimits = { maxAckPending: 100, ackWaitMs: 1_000, pullBatch: 10, maxAgeMs: 3_600_000, maxFutureSkewMs: 300_000 };

/** Publishes one status for each of d0..d2 and subscribes, keeping what comes and how the subscription fails. */
async function publishThreeAndSubscribe(src: StatusSource): Promise<{ seen: DriverStatus[]; failure: unknown }> {
  const at = Date.now();
  for (let i = 0; i < 3; i++) await ns.publish({ park_id: "p", driver_id: `d${i}`, status: "online", updated_at: at });
  const watched: { seen: DriverStatus[]; failure: unknown } = { seen: [], failure: undefined };
  src.statuses.subscribe({ next: (s) => watched.seen.push(s), error: (error: unknown) => (watched.failure = error) });
  return watched;
}

/**
 * Never acknowledged, a dead worker's messages come back after the ack wait, to the new worker
 * (one may come twice: a redelivery can reach the dead worker's inbox first, or the ack wait can
 * pass again before all three are here). Acks them all and waits for the consumer to drain.
 */
async function receiveAllThreeAgain(src: StatusSource): Promise<void> {
  const again: DriverStatus[] = [];
  const subscription = src.statuses.subscribe((s) => again.push(s));
  try {
    await eventually(() => new Set(again.map((s) => s.driver_id)).size === 3);
    for (const s of again) s.settle.ack();
    await eventually(() => ns.consumerDrained());
  } finally {
    subscription.unsubscribe();
  }
}

describe("status ingest worker", () => {
  it("statuses arrive decoded with their driver key; malformed ones are dead-lettered in the worker and counted here; acks settle them", async () => {
    source = await startIngestWorker(options());
    const at = Date.now() - 60_000;
    await ns.publish({ park_id: "p1", driver_id: "d1", status: "online", updated_at: at });
    await ns.publishRaw("{not json");
    await ns.publish({ park_id: "p1", driver_id: "d2", status: "offline", updated_at: at + 1 });
    await ns.publish({ park_id: "p2", driver_id: "d1", status: "busy", updated_at: at + 2 });

    const statuses = await take$(source, 3);
    expect(statuses.map(({ settle: _settle, ...s }) => s)).toEqual([
      { driver: "p1/d1", park_id: "p1", driver_id: "d1", status: "online", at },
      { driver: "p1/d2", park_id: "p1", driver_id: "d2", status: "offline", at: at + 1 },
      { driver: "p2/d1", park_id: "p2", driver_id: "d1", status: "busy", at: at + 2 },
    ]);
    await eventually(() => counted.some((c) => c.outcome === "dead_lettered" && c.n === 1));
    expect((await ns.deadLetters()).map((l) => l.data)).toEqual(["{not json"]);
    expect(source.outstanding()).toBe(3);
    await eventually(async () => (await source!.lag()).unacknowledged === 3);
    expect(await source.lag()).toEqual({ undelivered: 0, unacknowledged: 3 });

    for (const s of statuses) s.settle.ack();
    await eventually(() => ns.consumerDrained());
    await eventually(() => source!.outstanding() === 0);
    expect(await source.lag()).toEqual({ undelivered: 0, unacknowledged: 0 });
  });

  it("a status given up on downstream (its tell kept failing) is dead-lettered with the reason and its stream seq, then acknowledged", async () => {
    source = await startIngestWorker(options());
    await ns.publish({ park_id: "p9", driver_id: "d9", status: "online", updated_at: Date.now() });
    const [status] = await take$(source, 1);
    status!.settle.reject("the session actor refused it 5 times: out of range", { connected: true });
    await eventually(async () => (await ns.deadLetters()).length === 1);
    const [letter] = await ns.deadLetters();
    expect(letter).toMatchObject({ reason: "the session actor refused it 5 times: out of range", stream_seq: 1, detail: { connected: true } });
    await eventually(() => ns.consumerDrained());
    await eventually(() => counted.some((c) => c.outcome === "dead_lettered"));
  });

  it("handed back, the messages held come again to the next subscription", async () => {
    source = await startIngestWorker(options());
    const at = Date.now();
    for (let i = 0; i < 5; i++) await ns.publish({ park_id: "p", driver_id: `d${i}`, status: "online", updated_at: at });
    const first = await take$(source, 5);
    expect(source.outstanding()).toBe(5);

    source.handBack();
    await eventually(() => source!.outstanding() === 0);
    const again = await take$(source, 5);
    expect(again.map((s) => s.driver_id).sort()).toEqual(first.map((s) => s.driver_id).sort());
    // Acks of handles handed back meanwhile are ignored; the new ones settle the messages.
    for (const s of first) s.settle.ack();
    for (const s of again) s.settle.ack();
    await eventually(() => ns.consumerDrained());
  });

  it("keeping a message working stops its redelivery past the ack wait", async () => {
    source = await startIngestWorker({
      ...options(),
      limits: { maxAckPending: 100, ackWaitMs: 1_000, pullBatch: 10, maxAgeMs: 3_600_000, maxFutureSkewMs: 300_000 },
    });
    await ns.publish({ park_id: "p", driver_id: "d", status: "online", updated_at: Date.now() });
    const seen: DriverStatus[] = [];
    const subscription: Subscription = source.statuses.subscribe((s) => seen.push(s));
    try {
      await eventually(() => seen.length === 1);
      for (let i = 0; i < 6; i++) {
        seen[0]!.settle.working();
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(seen).toHaveLength(1);
      seen[0]!.settle.ack();
      await eventually(() => ns.consumerDrained());
    } finally {
      subscription.unsubscribe();
    }
  });

  it("a worker that dies fails the subscription; the next one starts a new worker, and what the dead one held comes again", async () => {
    const workers: Worker[] = [];
    source = await startIngestWorker({ ...options(), limits: deathLimits }, (data) => {
      const worker = ingestWorker(data);
      workers.push(worker);
      return worker;
    });
    const watched = await publishThreeAndSubscribe(source);
    await eventually(() => watched.seen.length === 3);

    await workers[0]!.terminate();
    await eventually(() => watched.failure !== undefined);
    expect(String(watched.failure)).toMatch(/exited/);
    expect(source.outstanding()).toBe(0);

    await receiveAllThreeAgain(source);
    expect(workers).toHaveLength(2);
  });

  it("statuses gathered in the worker cross together, in the order they arrived (per driver too)", async () => {
    const crossings: number[] = [];
    source = await startIngestWorker({ ...options(), gatherMs: 1_000 }, (data) =>
      ingestWorker(data).on("message", (m: FromIngest) => {
        if (m.type === "statuses" && m.ids.length > 0) crossings.push(m.ids.length);
      }),
    );
    const at = Date.now() - 60_000;
    const sent = [
      { park_id: "p", driver_id: "d1", status: "online", updated_at: at },
      { park_id: "p", driver_id: "d2", status: "online", updated_at: at },
      { park_id: "p", driver_id: "d1", status: "offline", updated_at: at + 1 },
      { park_id: "p", driver_id: "d2", status: "busy", updated_at: at + 1 },
      { park_id: "p", driver_id: "d1", status: "busy", updated_at: at + 2 },
    ] as const;
    for (const status of sent) await ns.publish(status);

    const statuses = await take$(source, sent.length);
    expect(statuses.map((s) => [s.driver_id, s.status, s.at])).toEqual(sent.map((s) => [s.driver_id, s.status, s.updated_at]));
    expect(crossings.length).toBeLessThan(sent.length);
    for (const s of statuses) s.settle.ack();
    await eventually(() => ns.consumerDrained());
  });

  it("a worker that dies while gathering acknowledges none of what it gathered: it all comes again", async () => {
    const workers: Worker[] = [];
    // The first worker gathers for a minute (nothing crosses before it dies); the next at once.
    source = await startIngestWorker({ ...options(), limits: deathLimits, gatherMs: 60_000 }, (data) => {
      const worker = ingestWorker(workers.length === 0 ? data : { ...data, gatherMs: 0 });
      workers.push(worker);
      return worker;
    });
    const watched = await publishThreeAndSubscribe(source);
    await eventually(async () => (await source!.lag()).unacknowledged === 3);
    expect(watched.seen).toHaveLength(0);

    await workers[0]!.terminate();
    await eventually(() => watched.failure !== undefined);
    await receiveAllThreeAgain(source);
  });

  it("a source that cannot be opened fails the start with the reason", async () => {
    await expect(startIngestWorker(options("nats://127.0.0.1:1"))).rejects.toThrow(/CONNECTION_REFUSED|ECONNREFUSED|connect/i);
  });
});
