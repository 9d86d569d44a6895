// A door shut while the service is cut off from the broker: the broker keeps the QoS 1
// `cell_closed` for the service's persistent session and hands it over on reconnect.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cabinetSpec, startCabinetSimulator, type CabinetSimulator } from "../../integrations/cabinet/index.ts";
import { eventually } from "../support/harness.ts";
import { startTestInstance, TOKENS, type TestInstance } from "../support/instance.ts";
import { startPrivateMosquitto, type PrivateMosquitto } from "../support/privateMosquitto.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";
import { BASE } from "./cabinets.support.ts";

let broker: PrivateMosquitto;
let proxy: TcpProxy;
let sim: CabinetSimulator;
let app: TestInstance;

beforeAll(async () => {
  broker = await startPrivateMosquitto();
  proxy = await startTcpProxy(broker.port);
  const prefix = `q${randomBytes(3).toString("hex")}/`;
  sim = await startCabinetSimulator({ url: broker.url, prefix, cabinets: [cabinetSpec("CAB-Q", { cells: 4, charged: 2 })] });
  // Polls far apart: only the device's own event can tell the service the door was shut.
  app = await startTestInstance({
    MQTT_URL: `mqtt://127.0.0.1:${proxy.port}`,
    MQTT_TOPIC_PREFIX: prefix,
    CABINET_POLL_MS: "60000",
    CABINET_COMMAND_TIMEOUT_MS: "1000",
    CABINET_REPORT_HEARTBEAT_MS: "0",
  });
});
afterAll(async () => {
  await app?.close();
  await sim?.close();
  await proxy?.close();
  await broker?.close();
});

const call = (method: string, path: string, body?: unknown) =>
  app.call(method, BASE + path, { token: TOKENS.internal, ...(body === undefined ? {} : { body }) });

describe("cabinets: MQTT reconnect", () => {
  it("cell_closed published while the service is disconnected reaches the actor after it reconnects", async () => {
    expect((await call("PUT", "/cabinets/CAB-Q", { lat: 55.7, lon: 37.6 })).status).toBe(201);
    await eventually(async () => (await call("GET", "/cabinets/CAB-Q")).body.cells?.length === 4, 10_000);
    const booking = await call("POST", "/cabinets/CAB-Q/bookings", { kind: "return", count: 1, contractor_id: "tech-q" });
    expect(booking.status).toBe(201);
    const [cell] = booking.body.cells as number[];
    expect((await call("POST", `/cabinets/CAB-Q/bookings/${booking.body.booking_id}/open`)).status).toBe(200);

    proxy.cut(); // the service loses the broker; the technician shuts the door meanwhile
    await new Promise((r) => setTimeout(r, 300));
    await sim.cabinet("CAB-Q").insert(cell!, "RET-Q", 15);
    await new Promise((r) => setTimeout(r, 500));
    expect((await call("GET", "/cabinets/CAB-Q")).body.bookings).toHaveLength(1);
    proxy.restore();

    await eventually(async () => (await call("GET", "/cabinets/CAB-Q")).body.bookings.length === 0, 15_000);
    const view = (await call("GET", "/cabinets/CAB-Q")).body;
    expect(view.cells.find((c: { cell: number }) => c.cell === cell)).toMatchObject({ accumulator_id: "RET-Q" });
  }, 40_000);
});
