// A paused instance (SIGSTOP) loses its shards when its lease runs out; resumed (SIGCONT), its
// stale writes are rejected by the epoch fence, it drops those actors and rejoins, and the
// ledgers equal the acknowledged history.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLedgers, clusterHarness, ledgerLoad, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";

let cluster: ClusterHarness;
beforeAll(async () => {
  cluster = await clusterHarness({ leaseMs: 1_500 });
  await Promise.all(["s1", "s2"].map((id) => cluster.start(id)));
}, 90_000);
afterAll(async () => {
  for (const node of cluster?.nodes.values() ?? []) node.proc.kill("SIGCONT");
  await cluster?.close();
});

const metric = async (url: string, name: string) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
};

describe("cluster fencing", () => {
  it("SIGSTOP until the lease expires, then SIGCONT - the former owner is fenced off and rejoins", async () => {
    const [s1, s2] = [cluster.nodes.get("s1")!, cluster.nodes.get("s2")!];
    await eventually(async () => (await cluster.admin(s1, "/admin/v1/cluster")).members.length === 2, 15_000);
    // Load only through s1, so the paused s2 is never the caller.
    const viaS1 = { ...cluster, nodes: new Map([["s1", s1]]) };
    const load = ledgerLoad(viaS1, { ledgers: 20, concurrency: 4, budgetMs: 20_000 });
    await eventually(() => load.ackedCount() > 60, 20_000);

    s2.proc.kill("SIGSTOP");
    await eventually(async () => (await cluster.admin(s1, "/admin/v1/cluster")).owned_shards === 64, 20_000, 200);
    const before = load.ackedCount();
    await eventually(() => load.ackedCount() > before + 40, 20_000);

    s2.proc.kill("SIGCONT");
    await eventually(async () => (await metric(s2.url, 'fleet_cluster_handovers_total{event="lost"}')) > 0, 20_000, 200);
    // It rejoins: the shards are shared again.
    await eventually(
      async () => {
        const views = await Promise.all([s1, s2].map((n) => cluster.admin(n, "/admin/v1/cluster")));
        return views.every((v) => v.owned_shards === 32);
      },
      20_000,
      200,
    );
    const after = load.ackedCount();
    await eventually(() => load.ackedCount() > after + 40, 20_000);

    const result = await load.stop();
    expect(result.failed).toEqual([]);
    expect(await checkLedgers(cluster, result)).toEqual({ missing: [], duplicated: [] });
  }, 120_000);
});
