// The cabinet gateway against simulated cabinets through a real Mosquitto of the test's own:
// request/reply by request_id, timeouts, late answers, malformed payloads, a broker outage.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import {
  CabinetGateway,
  CabinetNotRespondingError,
  MqttUnavailableError,
  cabinetSpec,
  noCabinetFaults,
  startCabinetSimulator,
  type CabinetSimulator,
  type UnsolicitedEvent,
} from "../../integrations/cabinet/index.ts";
import { eventually, silentLogger } from "../support/harness.ts";
import { startPrivateMosquitto, type PrivateMosquitto } from "../support/privateMosquitto.ts";

let broker: PrivateMosquitto;
let sim: CabinetSimulator;
let gateway: CabinetGateway;
let registry: Registry;
const unsolicited: UnsolicitedEvent[] = [];
const PREFIX = "fleet-test/";

beforeAll(async () => {
  broker = await startPrivateMosquitto();
  sim = await startCabinetSimulator({ url: broker.url, prefix: PREFIX, cabinets: [cabinetSpec("CAB-1", { cells: 4, charged: 2 }), cabinetSpec("CAB-2")] });
  registry = new Registry();
  gateway = await CabinetGateway.connect({ url: broker.url, prefix: PREFIX, commandTimeoutMs: 300, registry, logger: silentLogger });
  gateway.onUnsolicited((e) => unsolicited.push(e));
});
afterAll(async () => {
  await gateway?.close();
  await sim?.close();
  await broker?.close();
});
beforeEach(() => {
  for (const c of sim.cabinets.values()) Object.assign(c.faults, noCabinetFaults());
  unsolicited.length = 0;
});

const metric = async (name: string, labels: Record<string, string>) => {
  const m = (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return m?.value ?? 0;
};

describe("cabinet gateway", () => {
  it("inventory - the device's cells and charges come back to the request that asked", async () => {
    const report = await gateway.inventory("CAB-1");
    expect(report.cells).toEqual([
      { cell: 1, accumulator_id: "CAB-1-A1", charge: 95 },
      { cell: 2, accumulator_id: "CAB-1-A2", charge: 95 },
      { cell: 3, accumulator_id: null, charge: null },
      { cell: 4, accumulator_id: null, charge: null },
    ]);
  });

  it("unlock - opened and refused cells; the same request id again is answered without reopening", async () => {
    sim.cabinet("CAB-2").faults.refuseCells = [2];
    const result = await gateway.unlock("CAB-2", "req-1", [1, 2]);
    expect(result).toMatchObject({ request_id: "req-1", opened: [1], failed: [2] });
    expect(await gateway.unlock("CAB-2", "req-1", [1, 2])).toMatchObject({ opened: [1], failed: [2] });
    expect(sim.cabinet("CAB-2").stats.unlocks.filter((r) => r === "req-1")).toHaveLength(1);
    // The taken accumulator's door closed empty: that reaches the listener.
    await eventually(() => unsolicited.some((e) => e.cabinetId === "CAB-2" && e.event.type === "cell_closed"));
  });

  it("silent cabinet - the request rejects with cabinet_not_responding after the timeout", async () => {
    sim.cabinet("CAB-1").faults.silent = true;
    const error = await gateway.inventory("CAB-1").catch((e) => e);
    expect(error).toBeInstanceOf(CabinetNotRespondingError);
    expect(error.code).toBe("cabinet_not_responding");
    expect(await metric("fleet_cabinet_commands_total", { command: "inventory", outcome: "timeout" })).toBeGreaterThan(0);
  });

  it("late answer - an unlock_result after the timeout reaches the listener marked late", async () => {
    sim.cabinet("CAB-1").faults.slowMs = 600;
    await expect(gateway.unlock("CAB-1", "slow-1", [1])).rejects.toBeInstanceOf(CabinetNotRespondingError);
    const late = await eventually(() => unsolicited.find((e) => e.event.type === "unlock_result"), 3_000);
    expect(late).toMatchObject({ cabinetId: "CAB-1", late: true, event: { request_id: "slow-1", opened: [1] } });
  });

  it("malformed payloads - counted by reason, ignored, and the gateway keeps working", async () => {
    const cab = sim.cabinet("CAB-2");
    const before = await metric("fleet_cabinet_malformed_messages_total", { reason: "invalid_json" });
    await cab.publishRaw("{not json");
    await cab.publishRaw(JSON.stringify({ type: "self_destruct" }));
    await cab.publishRaw(JSON.stringify({ type: "cell_closed", cell: "seven", accumulator_id: 3 }));
    await cab.publishRaw(
      JSON.stringify({
        type: "inventory_report",
        cells: [
          { cell: 1, accumulator_id: null, charge: null },
          { cell: 1, accumulator_id: null, charge: null },
        ],
      }),
    );
    const counted = async () => ({
      invalid_json: await metric("fleet_cabinet_malformed_messages_total", { reason: "invalid_json" }),
      unknown_type: await metric("fleet_cabinet_malformed_messages_total", { reason: "unknown_type" }),
      invalid_payload: await metric("fleet_cabinet_malformed_messages_total", { reason: "invalid_payload" }),
      duplicate_cells: await metric("fleet_cabinet_malformed_messages_total", { reason: "duplicate_cells" }),
    });
    const expected = { invalid_json: before + 1, unknown_type: 1, invalid_payload: 1, duplicate_cells: 1 };
    await eventually(async () => JSON.stringify(await counted()) === JSON.stringify(expected), 10_000).catch(() => undefined);
    expect(await counted()).toEqual(expected);
    // (CAB-1's door, opened by the previous test, may still report closing: not ours.)
    expect(unsolicited.filter((e) => e.cabinetId === "CAB-2")).toEqual([]);
    expect((await gateway.inventory("CAB-2")).cells).toHaveLength(8);
  });

  it("broker outage - commands fail fast as mqtt_unavailable, and work again once it is back", async () => {
    await broker.stop();
    await eventually(() => !gateway.connected);
    const error = await gateway.inventory("CAB-1").catch((e) => e);
    expect(error).toBeInstanceOf(MqttUnavailableError);
    expect(error.code).toBe("mqtt_unavailable");
    await broker.start();
    await eventually(() => gateway.connected, 10_000);
    // The simulator reconnects too (and resubscribes); then the round trip works again.
    expect((await eventually(() => gateway.inventory("CAB-1").catch(() => undefined), 10_000)).cells).toHaveLength(4);
  });
});
