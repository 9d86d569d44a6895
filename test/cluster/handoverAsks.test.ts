// Asks while members join and leave: the instance handing a shard over keeps answering "moved"
// for a while, so an envelope already on its way to it is retried with the new owner instead of
// being dropped with the subscription and waiting out its whole timeout (a CI run saw such a 504).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterHarness, type ClusterHarness } from "../support/cluster.ts";

let cluster: ClusterHarness;
beforeAll(async () => {
  cluster = await clusterHarness({ shardCount: 64 });
  await Promise.all(["h1", "h2"].map((id) => cluster.start(id)));
  await cluster.balanced(2);
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

describe("asks during handovers", () => {
  it("a third member joining and leaving twice under load: every ask is answered 200, none waits out its timeout", async () => {
    const failed: string[] = [];
    let asks = 0;
    let running = true;
    const worker = async (w: number) => {
      while (running) {
        const node = cluster.nodes.get(w % 2 ? "h1" : "h2")!;
        const n = asks++;
        const res = await cluster.apply(node, `l${n % 200}`, `op-${n}`).catch((e: Error) => ({ status: 0, body: e.message }));
        if (res.status !== 200) failed.push(`${node.id} l${n % 200}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    for (let round = 0; round < 2; round++) {
      await cluster.start(`h3-${round}`);
      await cluster.balanced(3);
      await cluster.stop(`h3-${round}`);
      await cluster.balanced(2);
    }
    running = false;
    await Promise.all(workers);
    expect(asks).toBeGreaterThan(500);
    expect(failed).toEqual([]);
  }, 240_000);
});
