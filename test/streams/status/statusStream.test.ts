// The status stream end to end on real JetStream and Postgres: statuses published on the
// subject reach KRT through the session actors, coalesced, filtered and in order; a driver
// leaving the scope is disconnected; malformed messages are dead-lettered; a KRT outage loses
// nothing and sends nothing stale.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../support/harness.ts";
import { startTestInstance, type TestInstance } from "../../support/instance.ts";
import { pointIn } from "../../../integrations/trackstory/index.ts";
import { addDrivers, bind, testDriver, type TestDriver } from "../../services/driverStatus.support.ts";
import { metricValue, outcomeCount, statusNamespace, type StatusNamespace } from "./statusStream.support.ts";

// Wide enough that a stall of the loaded CI machine between two back-to-back statuses does not split them.
const DEBOUNCE_MS = 500;
const MAX_DELAY_MS = 1_500;
let app: TestInstance;
let ns: StatusNamespace;

beforeAll(async () => {
  ns = await statusNamespace();
  app = await startTestInstance({
    ...ns.env,
    STATUS_DEBOUNCE_MS: String(DEBOUNCE_MS),
    STATUS_MAX_DELAY_MS: String(MAX_DELAY_MS),
    KRT_RETRY_BASE_MS: "50",
    KRT_RETRY_MAX_MS: "300",
    PARTNER_TIMEOUT_MS: "500",
    PARTNER_RETRIES: "0",
    // Shorter than the debounce: a driver heard connected was looked up longer ago than this, so
    // his next status is looked up again (one leaving the region is disconnected on it).
    STATUS_REGION_TTL_MS: "200",
  });
  await eventually(() => app.services.driverStatus.statusStream(), 10_000);
}, 60_000);
afterAll(async () => {
  await app?.close();
  await ns?.close();
});

const calls = (d: TestDriver) => app.simulators.krt!.calls().filter((c) => c.id === d.krtId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const publish = (d: TestDriver, status: "online" | "busy" | "offline", at: number) =>
  ns.publish({ park_id: d.park_id, driver_id: d.driver_id, status, updated_at: at });
const metrics = () => fetch(`${app.url}/metrics`).then((r) => r.text());

async function readyDriver(options?: Parameters<typeof addDrivers>[2]): Promise<TestDriver> {
  const d = testDriver({ park: "park-js" });
  await addDrivers(app, [d], options);
  await bind(app, d);
  return d;
}

describe("coalescing", () => {
  it("many flips inside the window send only the latest; flips back to what KRT has send nothing", async () => {
    const d = await readyDriver();
    const start = await metrics();
    const t = Date.now();
    await publish(d, "online", t);
    await eventually(() => calls(d).length === 1);
    // Published back to back (in order on one connection, no round trip between them), so all of
    // them land inside one window even on a loaded machine.
    await Promise.all((["offline", "online", "offline", "busy", "offline"] as const).map((s, i) => publish(d, s, t + 10 + i)));
    await eventually(() => calls(d).length === 2);
    expect(calls(d).map((c) => [c.connected, c.at - t])).toEqual([
      [true, 0],
      [false, 14],
    ]);
    // KRT may hear the session actor before its answer to the stream is counted as told.
    await eventually(async () => outcomeCount(await metrics(), "told") - outcomeCount(start, "told") === 2);
    // Back where it began inside the window: the session actor is not even told.
    const before = await metrics();
    await Promise.all((["online", "offline"] as const).map((s, i) => publish(d, s, t + 20 + i)));
    await eventually(async () => outcomeCount(await metrics(), "unchanged") - outcomeCount(before, "unchanged") === 1);
    expect(outcomeCount(await metrics(), "told") - outcomeCount(before, "told")).toBe(0);
    await sleep(DEBOUNCE_MS * 3);
    expect(calls(d)).toHaveLength(2);
  });

  it("an older status arriving after a newer one never wins", async () => {
    const d = await readyDriver();
    const t = Date.now();
    await publish(d, "online", t + 1_000);
    await publish(d, "offline", t);
    await eventually(() => calls(d).length === 1);
    await sleep(DEBOUNCE_MS * 2);
    await publish(d, "offline", t + 500); // still older than the online
    await sleep(DEBOUNCE_MS * 3);
    expect(calls(d).map((c) => [c.connected, c.at - t])).toEqual([[true, 1_000]]);
  });

  it("online <-> busy flips, even spread over several windows, send nothing", async () => {
    const d = await readyDriver();
    const t = Date.now();
    await publish(d, "online", t);
    await eventually(() => calls(d).length === 1);
    for (let i = 1; i <= 3; i++) {
      await publish(d, i % 2 ? "busy" : "online", t + i);
      await sleep(DEBOUNCE_MS + 100);
    }
    expect(calls(d)).toHaveLength(1);
  });

  it("a driver flapping without pause is still sent within the maximum delay", async () => {
    const d = await readyDriver();
    const started = Date.now();
    let firstCallAt: number | undefined;
    for (let i = 0; Date.now() - started < MAX_DELAY_MS * 2; i++) {
      await publish(d, i % 2 ? "offline" : "online", started + i);
      if (firstCallAt === undefined && calls(d).length > 0) firstCallAt = Date.now();
      await sleep(DEBOUNCE_MS / 3);
    }
    expect(firstCallAt).toBeDefined();
    expect(firstCallAt! - started).toBeLessThan(MAX_DELAY_MS + 1_000);
  });
});

describe("filters", () => {
  it("drivers outside the categories or the region are never connected; a driver entering the region is", async () => {
    const cargo = await readyDriver({ categories: ["cargo"] });
    const away = await readyDriver({ region: "saint_petersburg" });
    const control = await readyDriver();
    const before = await metrics();
    const t = Date.now();
    for (const d of [cargo, away]) {
      await publish(d, "online", t);
      await publish(d, "busy", t + 1);
    }
    await publish(control, "online", t);
    await eventually(() => calls(control).length === 1);
    // Each one's first status tells his actor he is not connected (KRT holds him so, or hears it
    // once: he is bound); the next, a repeat of it, is counted as filtered.
    await eventually(async () => {
      const after = await metrics();
      const delta = (outcome: string) => outcomeCount(after, outcome) - outcomeCount(before, outcome);
      return delta("category_filtered") === 1 && delta("region_filtered") === 1;
    });
    await sleep(DEBOUNCE_MS * 2);
    expect([...calls(cargo), ...calls(away)].filter((c) => c.connected)).toEqual([]);

    app.simulators.trackstory!.move([{ park_id: away.park_id, driver_id: away.driver_id, lat: 55.75, lon: 37.62 }]);
    await publish(away, "offline", t + 2);
    await publish(away, "online", t + 3);
    await eventually(() => calls(away).some((c) => c.connected));
    expect(calls(away).filter((c) => c.connected)).toMatchObject([{ at: t + 3 }]);
  });
});

describe("disconnects: the filters decide who gets connected, never who gets disconnected", () => {
  const sims = () => app.simulators;
  const toPetersburg = (d: TestDriver) => sims().trackstory!.move([{ park_id: d.park_id, driver_id: d.driver_id, ...pointIn("saint_petersburg") }]);
  // Before: the region and category filters dropped each of these statuses, and KRT kept the driver connected.
  it.each([
    ["goes offline outside the region", "offline", toPetersburg],
    ["is online, but outside the region now", "online", toPetersburg],
    [
      "loses his category while online",
      "busy",
      async (d: TestDriver) => {
        sims().driverCategories!.set([{ park_id: d.park_id, driver_id: d.driver_id, categories: ["cargo"] }]);
        await app.services.driverStatus.refreshCaches();
      },
    ],
    ["has no position in trackstory any more", "online", (d: TestDriver) => sims().trackstory!.forget([d])],
  ] as const)("a driver connected in Moscow who %s is disconnected in KRT", async (_, status, leave) => {
    const d = await readyDriver();
    const t = Date.now();
    await publish(d, "online", t);
    await eventually(() => calls(d).length === 1);
    await leave(d);
    await publish(d, status, t + 1);
    await eventually(() => calls(d).length === 2);
    expect(calls(d).map((c) => [c.connected, c.at - t])).toEqual([
      [true, 0],
      [false, 1],
    ]);
  });
});

describe("dead letters", () => {
  it("/metrics shows the stream's lag, KRT calls by outcome and the calls waiting for the rate limit", async () => {
    const krtCalls = (text: string) => metricValue(text, 'fleet_partner_calls_total{system="krt",outcome="ok"}') ?? 0;
    const before = krtCalls(await metrics());
    const d = await readyDriver();
    await publish(d, "online", Date.now());
    await eventually(() => calls(d).length === 1);
    await eventually(() => ns.consumerDrained());
    const text = await metrics();
    expect(krtCalls(text)).toBeGreaterThan(before);
    expect(metricValue(text, 'fleet_status_stream_lag{state="undelivered"}')).toBe(0);
    expect(metricValue(text, 'fleet_status_stream_lag{state="unacknowledged"}')).toBe(0);
    expect(metricValue(text, "fleet_krt_calls_waiting")).toBe(0);
    expect(metricValue(text, 'fleet_partner_call_seconds_count{system="krt"}')).toBeGreaterThan(0);
  });

  it("malformed messages go to the dead-letter subject with the reason, and the stream continues", async () => {
    const d = await readyDriver();
    await ns.publishRaw("{not json");
    await ns.publishRaw(JSON.stringify({ park_id: d.park_id, driver_id: d.driver_id, status: "sleeping", updated_at: new Date().toISOString() }));
    await ns.publishRaw(JSON.stringify({ park_id: d.park_id, status: "online", updated_at: "yesterday" }));
    await publish(d, "online", Date.now());
    await eventually(() => calls(d).length === 1);
    const letters = await eventually(async () => {
      const all = await ns.deadLetters();
      return all.length >= 3 ? all : undefined;
    });
    expect(letters.map((l) => l.reason)).toEqual([
      "not JSON",
      expect.stringContaining("status"),
      expect.stringMatching(/driver_id.*updated_at|updated_at.*driver_id/),
    ]);
    expect(letters[0]!.data).toBe("{not json");
  });
});

describe("KRT outage", () => {
  it("KRT down while statuses keep changing, then back: each driver's latest connectivity is delivered, older ones never", async () => {
    const drivers = await Promise.all(Array.from({ length: 5 }, () => readyDriver()));
    const krt = app.simulators.krt!;
    const t = Date.now();
    await Promise.all(drivers.map((d) => publish(d, "online", t)));
    await eventually(() => drivers.every((d) => calls(d).length === 1));
    krt.faults.down = true;
    const latest = new Map<string, boolean>();
    for (let round = 1; round <= 4; round++) {
      for (const [i, d] of drivers.entries()) {
        const online = (round + i) % 2 === 0;
        await publish(d, online ? "busy" : "offline", t + round * 100);
        latest.set(d.krtId, online);
      }
      await sleep(DEBOUNCE_MS + 150); // each round reaches the actors on its own
    }
    const requestsWhileDown = krt.stats.requests;
    expect(requestsWhileDown).toBeGreaterThan(0);
    krt.faults.down = false;
    // Every driver tried to report a change while KRT was down, so each now reports its latest
    // (even one equal to what KRT had before: a failed report may have reached it).
    await eventually(() => drivers.every((d) => calls(d).length === 2), 10_000);
    await sleep(500);
    for (const d of drivers)
      expect(
        calls(d)
          .slice(1)
          .map((c) => [c.connected, c.at - t]),
      ).toEqual([[latest.get(d.krtId), 400]]);
  });
});
