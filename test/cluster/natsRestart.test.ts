// NATS restarted under load: instances reconnect and resume by themselves, nothing acknowledged
// is lost. Uses a NATS server of its own, never the shared one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLedgers, clusterHarness, ledgerLoad, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";
import { startPrivateNats, type PrivateNats } from "../support/privateNats.ts";

let nats: PrivateNats;
let cluster: ClusterHarness;
beforeAll(async () => {
  nats = await startPrivateNats();
  cluster = await clusterHarness({ natsUrl: nats.url, leaseMs: 3_000 });
  await Promise.all(["r1", "r2"].map((id) => cluster.start(id)));
}, 90_000);
afterAll(async () => {
  await cluster?.close();
  await nats?.stop();
});

describe("NATS restart", () => {
  it("instances reconnect and resume on their own; acknowledged operations are all kept", async () => {
    const [r1] = [...cluster.nodes.values()];
    await eventually(async () => (await cluster.admin(r1!, "/admin/v1/cluster")).members.length === 2, 15_000);
    const load = ledgerLoad(cluster, { ledgers: 20, concurrency: 4, budgetMs: 30_000 });
    await eventually(() => load.ackedCount() > 50, 20_000);

    await nats.restart(1_000);
    const before = load.ackedCount();
    await eventually(() => load.ackedCount() > before + 50, 30_000);
    for (const node of cluster.nodes.values()) {
      await eventually(async () => (await fetch(`${node.url}/ready`)).status === 200, 15_000, 200);
    }

    const result = await load.stop();
    expect(result.failed).toEqual([]);
    expect(await checkLedgers(cluster, result)).toEqual({ missing: [], duplicated: [] });
  }, 120_000);
});
