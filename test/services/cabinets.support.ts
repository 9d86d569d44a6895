// Cabinet suites' harness: a Mosquitto of their own, simulated cabinets on it, and a whole instance
// (real Postgres) polling them; plus the routes as small helpers.
import { randomBytes } from "node:crypto";
import {
  cabinetSpec,
  startCabinetSimulator,
  type CabinetSimulator,
  type CabinetSpec,
  type MqttAuth,
  type SimulatedCabinet,
} from "../../integrations/cabinet/index.ts";
import { eventually } from "../support/harness.ts";
import { startTestInstance, TOKENS, type TestInstance } from "../support/instance.ts";
import { startPrivateMosquitto, type PrivateMosquitto, type PrivateMosquittoOptions } from "../support/privateMosquitto.ts";

export const BASE = "/scooter-accumulator/v1";

export interface CabinetHarness {
  app: TestInstance;
  broker: PrivateMosquitto;
  sim: CabinetSimulator;
  env: Record<string, string>;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Adds a simulated cabinet, registers it and waits until its first report is in. */
  cabinet(spec: CabinetSpec): Promise<SimulatedCabinet>;
  book(
    cabinetId: string,
    body: { kind: "issue" | "return"; count: number; contractor_id: string; min_charge?: number },
  ): Promise<{ status: number; body: any }>;
  open(cabinetId: string, bookingId: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export const fastPolling = {
  CABINET_POLL_MS: "150",
  CABINET_MISSED_POLLS: "2",
  CABINET_COMMAND_TIMEOUT_MS: "400",
  CABINET_REPORT_HEARTBEAT_MS: "0",
};

export interface CabinetHarnessOptions {
  /** false: issued accumulators stay in their open cells until the test takes them. */
  autoTake?: boolean;
  /** The Mosquitto's listener (TLS, logins). */
  broker?: PrivateMosquittoOptions;
  /** How the simulated cabinets log in to it. */
  deviceAuth?: MqttAuth;
}

export async function startCabinetHarness(env: Record<string, string> = {}, options: CabinetHarnessOptions = {}): Promise<CabinetHarness> {
  const broker = await startPrivateMosquitto(options.broker);
  const prefix = `t${randomBytes(3).toString("hex")}/`;
  const sim = await startCabinetSimulator({
    url: broker.url,
    prefix,
    ...(options.autoTake === undefined ? {} : { autoTake: options.autoTake }),
    ...(options.deviceAuth ? { auth: options.deviceAuth } : {}),
  });
  const fullEnv = { MQTT_URL: broker.url, MQTT_TOPIC_PREFIX: prefix, ...fastPolling, ...env };
  const app = await startTestInstance(fullEnv);
  const call: CabinetHarness["call"] = (method, path, body, headers) =>
    app.call(method, BASE + path, { token: TOKENS.internal, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });
  return {
    app,
    broker,
    sim,
    env: fullEnv,
    call,
    cabinet: async (spec) => {
      const device = sim.add(spec);
      const res = await call("PUT", `/cabinets/${spec.id}`, { lat: spec.lat, lon: spec.lon });
      if (res.status !== 201) throw new Error(`register ${spec.id}: ${res.status} ${JSON.stringify(res.body)}`);
      await eventually(async () => (await call("GET", `/cabinets/${spec.id}`)).body.cells?.length === spec.cells.length, 10_000);
      return device;
    },
    book: (cabinetId, body) => call("POST", `/cabinets/${cabinetId}/bookings`, body),
    open: (cabinetId, bookingId) => call("POST", `/cabinets/${cabinetId}/bookings/${bookingId}/open`),
    close: async () => {
      await app.close();
      await sim.close();
      await broker.close();
    },
  };
}

export { cabinetSpec };
