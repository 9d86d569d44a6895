// Ack-after-persist: an instance killed (SIGKILL) while KRT is down and the last statuses are
// still in its pipeline loses nothing. The next instance gets the unacknowledged statuses again,
// the actors resume their backoff from their durable timers, and once KRT is back each driver's
// latest connectivity reaches it, and nothing older after it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterHarness, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";
import { statusNamespace, type StatusNamespace } from "../streams/status/statusStream.support.ts";
import { bindOn, startPartners, type Partners } from "./driverStatus.partners.ts";
import { testDriver, type TestDriver } from "./driverStatus.support.ts";

let partners: Partners;
let ns: StatusNamespace;
let cluster: ClusterHarness;
const drivers: TestDriver[] = Array.from({ length: 20 }, () => testDriver({ park: "park-r" }));

beforeAll(async () => {
  partners = await startPartners();
  partners.add(drivers);
  ns = await statusNamespace();
  Object.assign(process.env, partners.env, ns.env, {
    STATUS_DEBOUNCE_MS: "300",
    STATUS_MAX_DELAY_MS: "1000",
    STATUS_ACK_WAIT_MS: "2000",
    KRT_RETRY_BASE_MS: "100",
    KRT_RETRY_MAX_MS: "400",
    PARTNER_RETRIES: "0",
    PARTNER_TIMEOUT_MS: "500",
  });
  cluster = await clusterHarness({ leaseMs: 1_000 });
}, 60_000);
afterAll(async () => {
  await cluster?.close();
  await ns?.close();
  await partners?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("restart", () => {
  it("an instance killed mid-stream while KRT is down loses nothing: after the restart each driver's latest connectivity reaches KRT, nothing older follows", async () => {
    const first = await cluster.start("r1");
    for (const d of drivers) expect(await bindOn(first.url, d)).toBe(200);
    partners.krt.faults.down = true;
    const t = Date.now();
    const latest = new Map<string, { connected: boolean; at: number }>();
    const round = async (r: number) => {
      for (const [i, d] of drivers.entries()) {
        const connected = (r + i) % 3 !== 0;
        const at = t + r * 100;
        await ns.publish({ park_id: d.park_id, driver_id: d.driver_id, status: connected ? "online" : "offline", updated_at: at });
        latest.set(d.krtId, { connected, at });
      }
    };
    for (let r = 1; r <= 4; r++) {
      await round(r);
      await sleep(500); // told and committed: the actors hold it, backing off
    }
    await round(5);
    await sleep(50); // taken from JetStream, still inside the debounce window
    await cluster.kill("r1");

    await cluster.start("r2");
    // What r1 had taken but not told comes back after the ack wait; KRT returns once it is all persisted.
    await eventually(() => ns.consumerDrained(), 20_000, 100);
    partners.krt.faults.down = false;
    await eventually(() => drivers.every((d) => partners.krt.calls().some((c) => c.id === d.krtId)), 20_000, 100);
    await sleep(1_000);
    for (const d of drivers) {
      // KRT was down the whole time before: it gets one report, the latest connectivity (as of
      // the status that changed it; a later status saying the same is not a change).
      const calls = partners.krt.calls().filter((c) => c.id === d.krtId);
      expect(
        calls.map((c) => c.connected),
        d.driver_id,
      ).toEqual([latest.get(d.krtId)!.connected]);
      expect(calls[0]!.at).toBeLessThanOrEqual(latest.get(d.krtId)!.at);
    }
  }, 90_000);
});
