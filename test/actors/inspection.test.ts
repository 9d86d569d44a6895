// The runtime's inspection feed on its own (in-process transport, real Postgres): nothing is
// published without a watcher; a watcher gets the transitions its filter names; a burst over the
// cap is sampled (every transition either published or counted as dropped); interest lapses.
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorSystem } from "../../actors/ActorSystem.ts";
import { Inspection, type InspectionRecord } from "../../actors/Inspection.ts";
import { InProcessTransport } from "../../actors/transport/InProcessTransport.ts";
import { counterKind } from "../support/counterKind.ts";
import { eventually, silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";

let db: TestDatabase;
let system: ActorSystem;
let inspection: Inspection;
let transport: InProcessTransport;
const registry = new Registry();
const onSubjects: string[] = [];

beforeAll(async () => {
  db = await testDatabase("inspect");
  transport = new InProcessTransport();
  system = new ActorSystem({ sql: db.sql, kinds: [counterKind()], transport, logger: silentLogger, background: false });
  inspection = new Inspection({ system, transport, prefix: "t", instanceId: "i1", maxPerSecond: 5, interestTtlMs: 300, registry });
  transport.subscribe("t.inspect.events.>", (subject) => void onSubjects.push(subject));
});
afterAll(async () => {
  inspection.close();
  await system.stop();
  await db.drop();
});

const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);

describe("inspection feed", () => {
  it("publishes nothing while nobody watches", async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => system.ask(`counter/q${i % 4}`, { type: "increment" })));
    expect(inspection.watched).toBe(false);
    expect(onSubjects).toEqual([]);
    expect(await metric("fleet_inspect_published_total")).toBe(0);
  });

  it("a watcher gets its actor's transitions only; a burst over the cap is sampled", async () => {
    const records: InspectionRecord[] = [];
    const stop = inspection.watch({ type: "counter", id: "w1" }, (r) => records.push(r));
    expect(inspection.watched).toBe(true);
    try {
      await burst(records);
    } finally {
      stop();
    }
    expect(inspection.watched).toBe(false);
  });

  async function burst(records: InspectionRecord[]) {
    await system.ask("counter/other", { type: "increment" });
    await system.ask("counter/w1", { type: "increment" });
    // One delivery loop applies the whole burst at once, far over 5 a second.
    await Promise.all(Array.from({ length: 50 }, () => system.ask("counter/w1", { type: "increment" })));
    const published = await metric("fleet_inspect_published_total");
    const dropped = await metric("fleet_inspect_dropped_total");
    expect(records.every((r) => r.type === "counter" && r.id === "w1" && r.instance === "i1")).toBe(true);
    expect(records.length).toBe(published);
    // A fresh actor's start (xstate.init) and its 51 increments.
    expect(published + dropped).toBe(52);
    expect(dropped).toBeGreaterThan(0);
    expect(records[0]).toMatchObject({ event: { type: "xstate.init" }, state: "open", context: { count: 0 } });
    expect(records[1]).toMatchObject({ event: { type: "increment" }, state: "open", context: { count: 1 } });
    expect(records.some((r) => r.id === "other")).toBe(false);
  }

  it("an interest not refreshed lapses", async () => {
    // A watcher elsewhere that announced itself once and went silent.
    await transport.publish("t.inspect.interest", { watcher: "gone", ttl_ms: 300 });
    expect(inspection.watched).toBe(true);
    await eventually(() => !inspection.watched, 5_000);
  });
});
