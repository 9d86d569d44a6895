// The inspector across two instances on one NATS: with no watcher the inspection subjects carry
// nothing; a feed opened on one instance shows transitions of actors hosted on both; kinds,
// lookup and the cluster view answer for the whole cluster.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterHarness, type ClusterHarness, type Node } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";
import { openFeed } from "../support/feed.ts";

let cluster: ClusterHarness;
let n1: Node;
let n2: Node;
let nc: NatsConnection;
const seen: string[] = [];

beforeAll(async () => {
  cluster = await clusterHarness();
  [n1, n2] = await Promise.all([cluster.start("n1"), cluster.start("n2")]);
  await eventually(async () => {
    const views = await Promise.all([n1, n2].map((n) => cluster.admin(n, "/admin/v1/cluster")));
    return views.every((v) => v.members.length === 2) && views.reduce((s, v) => s + v.owned_shards, 0) === 64;
  }, 20_000);
  nc = await connect({ servers: cluster.natsUrl });
  nc.subscribe(`${cluster.name}.inspect.events.>`, { callback: (_e, msg) => void seen.push(msg.subject) });
  await nc.flush();
}, 90_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.close();
});

const published = async (node: Node) => {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return Number(text.match(/^fleet_inspect_published_total (\d+)/m)?.[1] ?? "NaN");
};
const inspector = async (node: Node, path: string) => {
  const res = await fetch(`${node.url}/inspector/api${path}`, { headers: { authorization: `Bearer ${TOKENS.admin}` } });
  return { status: res.status, body: (await res.json()) as any };
};
const traffic = async (prefix: string) => {
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => cluster.apply(i % 2 ? n2 : n1, `l${i % 20}`, `${prefix}-${i}`)));
  expect(results.every((r) => r.status === 200)).toBe(true);
};

describe("inspector in a cluster", () => {
  it("with no watcher, nothing is published on the inspection subjects", async () => {
    await traffic("quiet");
    await nc.flush();
    expect(await published(n1)).toBe(0);
    expect(await published(n2)).toBe(0);
    expect(seen).toEqual([]);
  });

  it("a feed on one instance shows transitions of actors on both", async () => {
    const feed = await openFeed(n1.url, TOKENS.admin, { kind: "ledger" });
    expect(feed.status).toBe(200);
    try {
      // Both instances heard the watcher's interest once a first record of each arrives.
      await eventually(async () => {
        await traffic(`watched-${Date.now()}`);
        const instances = new Set(feed.records.map((r) => r.instance));
        return instances.has("n1") && instances.has("n2");
      }, 20_000);
      expect(feed.records.every((r) => r.type === "ledger")).toBe(true);
      expect(feed.records[0]).toMatchObject({ event: { type: "apply" }, state: expect.anything(), context: expect.anything() });
      expect((await published(n1)) + (await published(n2))).toBeGreaterThan(0);
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      feed.close();
    }
  });

  it("kinds, lookup and the cluster view cover both instances", async () => {
    const kinds = await inspector(n1, "/kinds");
    expect(kinds.body.instances).toEqual(["n1", "n2"]);
    const ledger = kinds.body.items.find((k: { type: string }) => k.type === "ledger");
    expect(ledger.active.n1).toBeGreaterThan(0);
    expect(ledger.active.n2).toBeGreaterThan(0);
    expect(ledger.total_active).toBe(20);

    const actors = await inspector(n1, "/kinds/ledger/actors?limit=200");
    expect(actors.body.live.map((i: { instance: string }) => i.instance)).toEqual(["n1", "n2"]);
    expect(actors.body.live.reduce((n: number, i: { count: number }) => n + i.count, 0)).toBe(20);
    expect(actors.body.stored).toHaveLength(20);

    const hostedOnN2 = (await cluster.admin(n2, "/admin/v1/actors?type=ledger")).items[0].id as string;
    const lookup = await inspector(n1, `/actors/ledger/${hostedOnN2}`);
    expect(lookup.body).toMatchObject({ source: "live", instance: "n2", id: hostedOnN2 });

    const view = await inspector(n1, "/cluster");
    expect(view.body).toMatchObject({ mode: "cluster", members: ["n1", "n2"], shard_count: 64 });
    expect(view.body.shards.n1.length + view.body.shards.n2.length).toBe(64);
    expect(view.body.instances.map((i: { instance: string }) => i.instance)).toEqual(["n1", "n2"]);
    expect(view.body.instances.flatMap((i: { handovers: unknown[] }) => i.handovers).length).toBeGreaterThan(0);
  });
});
