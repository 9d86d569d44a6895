// Three instances on one NATS and one Postgres: every actor answers from any instance and is
// hosted on exactly one; a singleton lives once and moves when its instance dies.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterHarness, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";

let cluster: ClusterHarness;
beforeAll(async () => {
  cluster = await clusterHarness();
  await Promise.all(["n1", "n2", "n3"].map((id) => cluster.start(id)));
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

describe("cluster placement", () => {
  it("asks to many actors from any instance all answer, each actor hosted on exactly one", async () => {
    const nodes = [...cluster.nodes.values()];
    await eventually(async () => {
      const views = await Promise.all(nodes.map((n) => cluster.admin(n, "/admin/v1/cluster")));
      return views.every((v) => v.members.length === 3) && views.reduce((s, v) => s + v.owned_shards, 0) === 64;
    }, 20_000);
    const results = await Promise.all(Array.from({ length: 120 }, (_, i) => cluster.apply(nodes[i % 3]!, `l${i % 40}`, `op-${i}`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const hosted = await Promise.all(nodes.map((n) => cluster.admin(n, "/admin/v1/actors?type=ledger")));
    const where = new Map<string, string[]>();
    for (const h of hosted) for (const a of h.items) where.set(a.id, [...(where.get(a.id) ?? []), h.instance]);
    expect(where.size).toBe(40);
    expect([...where.values()].every((instances) => instances.length === 1)).toBe(true);
    expect(new Set([...where.values()].flat()).size).toBe(3);
  });

  it("shards are balanced within one of even", async () => {
    const views = await Promise.all([...cluster.nodes.values()].map((n) => cluster.admin(n, "/admin/v1/cluster")));
    const owned = views.map((v) => v.owned_shards).sort();
    expect(owned).toEqual([21, 21, 22]);
  });

  it("a singleton lives on one instance and moves when that one is killed", async () => {
    const homes = async () => {
      const hosted = await Promise.all([...cluster.nodes.values()].map((n) => cluster.admin(n, "/admin/v1/actors?type=beacon")));
      return hosted.filter((h) => h.items.some((a: { id: string }) => a.id === "main")).map((h) => h.instance as string);
    };
    const [home] = await eventually(async () => ((await homes()).length === 1 ? homes() : undefined), 10_000);
    await cluster.kill(home!);
    const [next] = await eventually(async () => {
      const h = await homes();
      return h.length === 1 ? h : undefined;
    }, 15_000);
    expect(next).not.toBe(home);
    expect((await homes()).length).toBe(1);
  });
});
