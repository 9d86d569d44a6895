// Scale out 2 -> 3 -> 4 and back to 2 under load: shards stay balanced within one of even, no
// operation fails beyond its budget, nothing acknowledged is lost.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLedgers, clusterHarness, ledgerLoad, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";

let cluster: ClusterHarness;
beforeAll(async () => {
  cluster = await clusterHarness({ leaseMs: 2_000 });
  await Promise.all(["a1", "a2"].map((id) => cluster.start(id)));
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

describe("cluster scaling", () => {
  it("2 -> 3 -> 4 -> 2 instances under load - balanced at each step, no failed or lost operation", async () => {
    await cluster.balanced(2);
    const load = ledgerLoad(cluster, { ledgers: 40, concurrency: 6, budgetMs: 10_000 });
    const progress = async () => {
      const before = load.ackedCount();
      await eventually(() => load.ackedCount() > before + 30, 60_000);
    };
    await progress();
    await cluster.start("a3");
    await cluster.balanced(3);
    await progress();
    await cluster.start("a4");
    await cluster.balanced(4);
    await progress();
    await cluster.stop("a4");
    await cluster.stop("a3");
    await cluster.balanced(2);
    await progress();

    const result = await load.stop();
    expect(result.failed).toEqual([]);
    expect(await checkLedgers(cluster, result)).toEqual({ missing: [], duplicated: [] });
  }, 420_000);
});
