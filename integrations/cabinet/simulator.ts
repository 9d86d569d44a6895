// Simulated battery cabinets: MQTT devices holding cells and accumulators. They answer
// `inventory` and `unlock` (a repeated request id gets the first answer again, nothing reopens),
// report `cell_closed` when a door closes, and have fault switches per cabinet: silent, slow,
// dropping a share of commands, refusing cells. One MQTT connection carries every cabinet.
import type { Socket } from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import { type MqttAuth, mqttConnectionOptions } from "./connection.ts";
import { allCommands, cabinetOfTopic, decodeCommand, eventsTopic, isMalformed, type Command, type DeviceEvent } from "./protocol.ts";

export interface CabinetFaults {
  /** Answer nothing at all. */
  silent: boolean;
  /** Wait this long before answering. */
  slowMs: number;
  /** Share of commands (0..1) dropped without an answer. */
  dropRate: number;
  /** Cells that never open (reported as `failed`). */
  refuseCells: number[];
}

export const noCabinetFaults = (): CabinetFaults => ({ silent: false, slowMs: 0, dropRate: 0, refuseCells: [] });

export interface SimulatedCell {
  accumulator_id: string | null;
  charge: number | null;
  open: boolean;
}

export interface CabinetSpec {
  id: string;
  lat: number;
  lon: number;
  cells: { cell: number; accumulator_id: string | null; charge: number | null }[];
}

export interface SimulatedCabinet {
  readonly id: string;
  readonly spec: CabinetSpec;
  readonly faults: CabinetFaults;
  readonly cells: Map<number, SimulatedCell>;
  /** Commands received (before faults), and the unlock request ids actually carried out. */
  readonly stats: { commands: number; inventory: number; unlocks: string[] };
  /** A technician puts `accumulatorId` into an open cell and shuts the door: `cell_closed` is sent. */
  insert(cell: number, accumulatorId: string, charge?: number): Promise<void>;
  /** Shuts an open door with nothing put in. */
  close(cell: number): Promise<void>;
  /** Publishes anything on this cabinet's events topic (tests of malformed payloads). */
  publishRaw(payload: string | Buffer): Promise<void>;
  /** Publishes an event as the device would on its own. */
  publish(event: DeviceEvent): Promise<void>;
}

export interface CabinetSimulatorOptions {
  url: string;
  /** TLS and login of the devices' connection, as the service's. */
  auth?: MqttAuth;
  prefix?: string;
  cabinets?: readonly CabinetSpec[];
  /** Issued accumulators are taken out at once and the door shut (`cell_closed` empty). Default true. */
  autoTake?: boolean;
}

export interface CabinetSimulator {
  readonly prefix: string;
  readonly cabinets: ReadonlyMap<string, SimulatedCabinet>;
  add(spec: CabinetSpec): SimulatedCabinet;
  cabinet(id: string): SimulatedCabinet;
  /** Commands that were not valid JSON commands (the service must never send one). */
  readonly rejected: number;
  close(): Promise<void>;
}

/** Unlock answers remembered per cabinet, so a repeated request id is answered the same way. */
const REMEMBERED_UNLOCKS = 256;

/**
 * Connects the simulated cabinets to the broker.
 * @example const sim = await startCabinetSimulator({ url: "mqtt://127.0.0.1:1883", cabinets: [cabinetSpec("CAB-1", { charged: 4 })] })
 */
export async function startCabinetSimulator(options: CabinetSimulatorOptions): Promise<CabinetSimulator> {
  const prefix = options.prefix ?? "";
  const autoTake = options.autoTake ?? true;
  const client: MqttClient = await mqtt.connectAsync(options.url, {
    ...mqttConnectionOptions(`cabinet-sim-${Math.random().toString(16).slice(2, 10)}`, options.auth),
    reconnectPeriod: 500,
  });
  const setNoDelay = () => (client.stream as Socket | undefined)?.setNoDelay?.(true);
  setNoDelay();
  client.on("connect", setNoDelay);
  client.on("error", () => {}); // reconnects by itself; tests see the effects
  const cabinets = new Map<string, SimulatedCabinet>();
  const answered = new Map<string, Map<string, DeviceEvent>>();
  let rejected = 0;

  const publish = (id: string, payload: string | Buffer) =>
    new Promise<void>((resolve, reject) => client.publish(eventsTopic(prefix, id), payload, { qos: 1 }, (e) => (e ? reject(e) : resolve())));

  const add = (spec: CabinetSpec): SimulatedCabinet => {
    const cells = new Map(spec.cells.map((c) => [c.cell, { accumulator_id: c.accumulator_id, charge: c.charge, open: false }]));
    const cabinet: SimulatedCabinet = {
      id: spec.id,
      spec,
      faults: noCabinetFaults(),
      cells,
      stats: { commands: 0, inventory: 0, unlocks: [] },
      insert: async (cell, accumulatorId, charge) => {
        const c = cells.get(cell);
        if (!c?.open) throw new Error(`cell ${cell} of ${spec.id} is not open`);
        Object.assign(c, { accumulator_id: accumulatorId, charge: charge ?? null, open: false });
        await publish(spec.id, JSON.stringify({ type: "cell_closed", cell, accumulator_id: accumulatorId }));
      },
      close: async (cell) => {
        const c = cells.get(cell);
        if (!c?.open) throw new Error(`cell ${cell} of ${spec.id} is not open`);
        c.open = false;
        await publish(spec.id, JSON.stringify({ type: "cell_closed", cell, accumulator_id: c.accumulator_id }));
      },
      publishRaw: (payload) => publish(spec.id, payload),
      publish: (event) => publish(spec.id, JSON.stringify(event)),
    };
    cabinets.set(spec.id, cabinet);
    answered.set(spec.id, new Map());
    return cabinet;
  };
  for (const spec of options.cabinets ?? []) add(spec);

  const handle = async (cabinet: SimulatedCabinet, command: Command) => {
    cabinet.stats.commands++;
    const { faults } = cabinet;
    if (faults.silent || Math.random() < faults.dropRate) return;
    if (faults.slowMs > 0) await new Promise((r) => setTimeout(r, faults.slowMs));
    if (command.type === "inventory") {
      cabinet.stats.inventory++;
      const cells = [...cabinet.cells].map(([cell, c]) => ({ cell, accumulator_id: c.accumulator_id, charge: c.charge }));
      return publish(cabinet.id, JSON.stringify({ type: "inventory_report", request_id: command.request_id, cells }));
    }
    const memory = answered.get(cabinet.id)!;
    const earlier = memory.get(command.request_id);
    if (earlier) return publish(cabinet.id, JSON.stringify(earlier));
    cabinet.stats.unlocks.push(command.request_id);
    const opened = command.cells.filter((n) => cabinet.cells.has(n) && !faults.refuseCells.includes(n));
    const result: DeviceEvent = { type: "unlock_result", request_id: command.request_id, opened, failed: command.cells.filter((n) => !opened.includes(n)) };
    memory.set(command.request_id, result);
    if (memory.size > REMEMBERED_UNLOCKS) memory.delete(memory.keys().next().value!);
    for (const n of opened) cabinet.cells.get(n)!.open = true;
    await publish(cabinet.id, JSON.stringify(result));
    if (!autoTake) return;
    for (const n of opened) {
      const c = cabinet.cells.get(n)!;
      if (c.accumulator_id === null) continue; // an empty cell waits for a returned accumulator
      Object.assign(c, { accumulator_id: null, charge: null, open: false });
      await publish(cabinet.id, JSON.stringify({ type: "cell_closed", cell: n, accumulator_id: null }));
    }
  };

  client.on("message", (topic, payload) => {
    const id = cabinetOfTopic(prefix, topic, "commands");
    const cabinet = id === undefined ? undefined : cabinets.get(id);
    if (!cabinet) return;
    const command = decodeCommand(payload);
    if (isMalformed(command)) return void rejected++;
    void handle(cabinet, command).catch(() => {});
  });
  await client.subscribeAsync(allCommands(prefix), { qos: 1 });

  return {
    prefix,
    cabinets,
    add,
    cabinet: (id) => {
      const c = cabinets.get(id);
      if (!c) throw new Error(`no simulated cabinet ${id}`);
      return c;
    },
    get rejected() {
      return rejected;
    },
    close: async () => {
      await client.endAsync(true).catch(() => {});
    },
  };
}

/**
 * A cabinet of `cells` cells, the first `charged` holding accumulators `<id>-A<n>` charged
 * `charge`%, the rest empty.
 */
export function cabinetSpec(id: string, options: { cells?: number; charged?: number; charge?: number; lat?: number; lon?: number } = {}): CabinetSpec {
  const cells = options.cells ?? 8;
  const charged = options.charged ?? Math.floor(cells / 2);
  return {
    id,
    lat: options.lat ?? 55.75,
    lon: options.lon ?? 37.62,
    cells: Array.from({ length: cells }, (_, i) => ({
      cell: i + 1,
      accumulator_id: i < charged ? `${id}-A${i + 1}` : null,
      charge: i < charged ? (options.charge ?? 95) : null,
    })),
  };
}

/** Embedded mode's demo: three cabinets around central Moscow with mixed charges. */
export function demoCabinets(): CabinetSpec[] {
  const mixed = (spec: CabinetSpec, charges: number[]): CabinetSpec => ({
    ...spec,
    cells: spec.cells.map((c, i) => (c.accumulator_id ? { ...c, charge: charges[i % charges.length]! } : c)),
  });
  return [
    mixed(cabinetSpec("CAB-1", { cells: 8, charged: 6, lat: 55.7558, lon: 37.6173 }), [98, 95, 91, 87, 60, 35]),
    mixed(cabinetSpec("CAB-2", { cells: 8, charged: 3, lat: 55.7602, lon: 37.6085 }), [100, 92, 40]),
    mixed(cabinetSpec("CAB-3", { cells: 12, charged: 9, lat: 55.7333, lon: 37.5881 }), [99, 97, 96, 90, 85, 80, 75, 50, 20]),
  ];
}
