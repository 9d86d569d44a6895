// A crashed instance (SIGKILL) under continuous load: its shards move to the survivors once
// its lease runs out, and every acknowledged operation is kept, none applied twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLedgers, clusterHarness, ledgerLoad, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";

const LEASE_MS = 2_000;
let cluster: ClusterHarness;
beforeAll(async () => {
  cluster = await clusterHarness({ leaseMs: LEASE_MS });
  await Promise.all(["k1", "k2", "k3"].map((id) => cluster.start(id)));
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

describe("cluster failover", () => {
  it("SIGKILL under load - every actor answers again within the lease plus a margin, nothing acknowledged is lost", async () => {
    const ledgers = 30;
    const load = ledgerLoad(cluster, { ledgers, concurrency: 6, budgetMs: 15_000 });
    await eventually(() => load.ackedCount() > 100, 20_000);

    const killedAt = Date.now();
    await cluster.kill("k2");
    // Every ledger answers again from a survivor.
    const survivors = [...cluster.nodes.values()];
    await Promise.all(
      Array.from({ length: ledgers }, (_, i) =>
        eventually(async () => (await cluster.apply(survivors[i % survivors.length]!, `l${i}`, `probe-${i}`, 3_000)).status === 200, 20_000, 100),
      ),
    );
    const recoveredMs = Date.now() - killedAt;
    expect(recoveredMs).toBeLessThan(LEASE_MS + 6_000);

    const before = load.ackedCount();
    await eventually(() => load.ackedCount() > before + 50, 20_000);
    const result = await load.stop();
    expect(result.failed).toEqual([]);
    expect(await checkLedgers(cluster, result)).toEqual({ missing: [], duplicated: [] });
  }, 120_000);
});
