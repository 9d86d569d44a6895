// Placement in-process: the lease is renewed while handovers are slow, so a member busy committing
// the actors of a shard it hands over is never presumed dead and never loses the shards it keeps;
// and a member that finds its shard's key rewritten while it was away gives the shard up.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { Placement } from "../../actors/cluster/Placement.ts";
import { eventually, silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";

const clusterName = () => `pl${randomBytes(4).toString("hex")}`;
const cluster = clusterName();
const alsoCluster = clusterName();
const leaseMs = 600;
const shardCount = 8;
let nc: NatsConnection;
let db: TestDatabase;
const started: Placement[] = [];

beforeAll(async () => {
  nc = await connect({ servers: "nats://127.0.0.1:4222" });
  db = await testDatabase("placement");
});
afterAll(async () => {
  await Promise.all(started.map((p) => p.leave().catch(() => {})));
  const kvm = new Kvm(nc);
  for (const c of [cluster, alsoCluster]) for (const bucket of [`${c}_members`, `${c}_shards`]) await (await kvm.open(bucket)).destroy().catch(() => {});
  await nc.close();
  await db.drop();
});

function member(instanceId: string, releaseMs: number, events: string[], inCluster = cluster) {
  return Placement.start({
    nc,
    sql: db.sql,
    cluster: inCluster,
    instanceId,
    shardCount,
    leaseMs,
    logger: silentLogger,
    onAcquire: async () => {},
    onRelease: () => new Promise((r) => setTimeout(r, releaseMs)),
    onLost: async () => {},
    onChange: (event, shard) => events.push(`${instanceId}:${event}:${shard}`),
  }).then((p) => {
    started.push(p);
    return p;
  });
}

describe("placement lease", () => {
  it("a member whose handovers take several leases keeps its lease and the shards it keeps", async () => {
    const events: string[] = [];
    const slow = await member("p1", 4 * leaseMs, events);
    await eventually(() => slow.ownedShards().length === shardCount);

    const fresh = await member("p2", 0, events);
    await eventually(() => slow.ownedShards().length === shardCount / 2 && fresh.ownedShards().length === shardCount / 2, 20_000, 50);
    // The slow releases are over and the two halves are disjoint.
    await eventually(() => events.filter((e) => e.startsWith("p1:released")).length === shardCount / 2, 20_000, 50);
    expect(new Set([...slow.ownedShards(), ...fresh.ownedShards()]).size).toBe(shardCount);
    expect(events.filter((e) => e.includes(":lost:"))).toEqual([]);
    expect(slow.liveMembers()).toEqual(["p1", "p2"]);
    expect(fresh.liveMembers()).toEqual(["p1", "p2"]);
  }, 60_000);
});

describe("placement after a pause", () => {
  it("a shard taken over and released again while its owner was away is lost, then acquired at a new epoch", async () => {
    const events: string[] = [];
    const alone = await member("q1", 0, events, alsoCluster);
    await eventually(() => alone.ownedShards().length === shardCount);
    const shard = 3;
    const epoch = alone.epochOf(shard);
    // What a paused owner finds when it wakes up: another member took the key and released it.
    const shards = await new Kvm(nc).open(`${alsoCluster}_shards`);
    const taken = await shards.update(`shard.${shard}`, JSON.stringify({ owner: "elsewhere" }), epoch);
    await shards.delete(`shard.${shard}`, { previousSeq: taken });
    await alone.tick();

    await eventually(() => events.includes(`q1:lost:${shard}`) && alone.epochOf(shard) > taken, 20_000, 50);
    expect(alone.ownedShards()).toHaveLength(shardCount);
  }, 60_000);
});
