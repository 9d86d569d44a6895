// Two instances consuming the status stream together (one durable consumer): JetStream hands
// each message to one of them, the runtime routes each tell to the one instance hosting that
// driver's session actor, and the actor orders by the statuses' own time, so each driver's
// statuses are still applied in order, by one actor.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Schema } from "effect";
import { KrtSessionPublicEvent } from "../../services/driverStatus/publicEvents.ts";
import { jsonSchemaOf } from "../../services/publicEvents.ts";
import { clusterHarness, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";
import { outcomeCount, statusNamespace, type StatusNamespace } from "../streams/status/statusStream.support.ts";
import { bindOn, startPartners, type Partners } from "../services/driverStatus.partners.ts";
import { testDriver, type TestDriver } from "../services/driverStatus.support.ts";

let partners: Partners;
let ns: StatusNamespace;
let cluster: ClusterHarness;
const drivers: TestDriver[] = Array.from({ length: 30 }, () => testDriver({ park: "park-k" }));

beforeAll(async () => {
  partners = await startPartners();
  partners.add(drivers);
  ns = await statusNamespace();
  Object.assign(process.env, partners.env, ns.env, { STATUS_DEBOUNCE_MS: "50", STATUS_MAX_DELAY_MS: "200", STATUS_PULL_BATCH: "16" });
  cluster = await clusterHarness();
  await Promise.all(["k1", "k2"].map((id) => cluster.start(id)));
  // Both members placed and the shards split: binds must not race the start-up handover.
  await eventually(
    async () => {
      const views = await Promise.all(["k1", "k2"].map((id) => cluster.admin(cluster.nodes.get(id)!, "/admin/v1/cluster")));
      return views.every((v) => v.members.length === 2 && v.owned_shards > 0) && views.reduce((sum, v) => sum + v.owned_shards, 0) === 64;
    },
    30_000,
    200,
  );
}, 90_000);
afterAll(async () => {
  await cluster?.close();
  await ns?.close();
  await partners?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("status stream on two instances", () => {
  it("each driver's statuses are applied in order, by one actor, though both instances consume", async () => {
    const [k1, k2] = [cluster.nodes.get("k1")!, cluster.nodes.get("k2")!];
    const events: unknown[] = [];
    const sub = ns.nc.subscribe(`${cluster.name}.events.krt-session.*`, { callback: (_e, m) => void events.push(m.json()) });
    await ns.nc.flush();
    for (const [i, d] of drivers.entries()) expect(await bindOn(i % 2 ? k1.url : k2.url, d)).toBe(200);
    const t = Date.now();
    const newest = new Map<string, { connected: boolean; at: number }>();
    // 12 rounds; inside a round each driver gets two statuses published newest first.
    for (let round = 0; round < 12; round++) {
      for (const [i, d] of drivers.entries()) {
        const later = { connected: (round + i) % 3 !== 0, at: t + round * 10 + 5 };
        const earlier = { connected: !later.connected, at: t + round * 10 };
        for (const s of [later, earlier])
          await ns.publish({ park_id: d.park_id, driver_id: d.driver_id, status: s.connected ? "busy" : "offline", updated_at: s.at });
        newest.set(d.krtId, later);
      }
      await sleep(round % 3 === 0 ? 120 : 10);
    }
    await eventually(() => ns.consumerDrained(), 20_000, 100);
    const lastCall = (d: TestDriver) =>
      partners.krt
        .calls()
        .filter((c) => c.id === d.krtId)
        .at(-1);
    await eventually(() => drivers.every((d) => lastCall(d)?.connected === newest.get(d.krtId)!.connected), 20_000, 100);
    await sleep(500);

    for (const d of drivers) {
      const calls = partners.krt.calls().filter((c) => c.id === d.krtId);
      expect(calls.length, d.driver_id).toBeGreaterThan(0);
      // Never an older status after a newer one, and KRT ends with the newest connectivity.
      for (let i = 1; i < calls.length; i++) expect(calls[i]!.at).toBeGreaterThan(calls[i - 1]!.at);
      expect(calls.at(-1)!.connected).toBe(newest.get(d.krtId)!.connected);
    }
    // Both instances took statuses from the one consumer...
    const told = await Promise.all([k1, k2].map(async (n) => outcomeCount(await (await fetch(`${n.url}/metrics`)).text(), "told")));
    expect(told.every((n) => n > 0)).toBe(true);
    // ...and each driver's actor lives on exactly one of them.
    const hosted = await Promise.all(
      [k1, k2].map(async (n) => {
        const res = await fetch(`${n.url}/admin/v1/actors?type=krt-session`, { headers: { authorization: `Bearer ${TOKENS.admin}` } });
        return ((await res.json()) as { items: { id: string }[] }).items.map((a) => a.id);
      }),
    );
    for (const d of drivers)
      expect(
        hosted.filter((ids) => ids.includes(d.licence)),
        d.licence,
      ).toHaveLength(1);

    // Public events: published after commit, valid against the documented schema, never the KRT id.
    sub.unsubscribe();
    const decoded = events.map((e) => Schema.decodeUnknownSync(KrtSessionPublicEvent)(e));
    const mine = decoded.filter((e) => e.id === drivers[0]!.licence);
    expect(mine[0]).toMatchObject({ state: "bound", state_path: "bound.idle", bound: true, session_status: null });
    expect(mine.at(-1)).toMatchObject({
      state: "bound",
      bound: true,
      session_status: expect.stringMatching(/active|paused/),
      connected: newest.get(drivers[0]!.krtId)!.connected,
    });
    expect(JSON.stringify(events)).not.toContain(drivers[0]!.krtId);
    // Published when what they say changes, not at every pass through `bound.sending`.
    const bySeq = [...new Map(mine.map((e) => [e.seq, e])).values()].sort((a, b) => a.seq - b.seq);
    const said = bySeq.map((e) => JSON.stringify([e.state, e.bound, e.connected, e.session_status, e.ended_at, e.state_path === "bound.backoff"]));
    for (let i = 1; i < said.length; i++) expect(said[i], `event ${i}`).not.toBe(said[i - 1]);
  }, 90_000);

  it("the documented JSON Schema of krt-session events is the one the code validates with", () => {
    const doc = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../docs/events/krt-session.schema.json"), "utf8"));
    expect(doc).toEqual(jsonSchemaOf("krt-session"));
  });
});
