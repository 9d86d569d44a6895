// Members starting at the same moment all create the cluster's KV buckets: every one of them
// binds the same bucket, none fails its start (the loser of a creation race is told the subjects
// overlap; it creates again once the winner's stream exists).
import { randomBytes } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBucket } from "../../actors/cluster/Placement.ts";

let connections: NatsConnection[] = [];
beforeAll(async () => {
  connections = await Promise.all(Array.from({ length: 8 }, () => connect({ servers: "127.0.0.1:4222" })));
});
afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
});

describe("createBucket", () => {
  it("eight members creating one bucket at once: all bind it, and a value one writes the others read", async () => {
    for (let round = 0; round < 5; round++) {
      const name = `race_${randomBytes(4).toString("hex")}`;
      const buckets = await Promise.all(connections.map((nc) => createBucket(new Kvm(nc), name, { history: 1, ttl: 2_000 })));
      await buckets[0]!.put("k", "v");
      for (const kv of buckets) expect((await kv.get("k"))?.string()).toBe("v");
      await buckets[0]!.destroy();
    }
  });
});
