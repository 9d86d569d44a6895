// Booking expiry is a durable timer: it fires after the instance that set it is gone, when the
// next instance starts on the same database; and an open answered before the restart replays.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../config.ts";
import { startInstance, type Instance } from "../../instance.ts";
import { cabinetSpec, startCabinetSimulator, type CabinetSimulator } from "../../integrations/cabinet/index.ts";
import { eventually, silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";
import { startPrivateMosquitto, type PrivateMosquitto } from "../support/privateMosquitto.ts";
import { BASE, fastPolling } from "./cabinets.support.ts";

let db: TestDatabase;
let broker: PrivateMosquitto;
let sim: CabinetSimulator;
let env: Record<string, string>;
const running: Instance[] = [];

beforeAll(async () => {
  db = await testDatabase("cabrestart");
  broker = await startPrivateMosquitto();
  const prefix = `r${randomBytes(3).toString("hex")}/`;
  sim = await startCabinetSimulator({ url: broker.url, prefix, cabinets: [cabinetSpec("CAB-R", { cells: 4, charged: 3 })] });
  env = {
    PORT: "0",
    AUTH_TOKENS: Object.entries(TOKENS)
      .map(([r, t]) => `${r}=${t}`)
      .join(","),
    DEMO_DATA: "false",
    MQTT_URL: broker.url,
    MQTT_TOPIC_PREFIX: prefix,
    ...fastPolling,
    BOOKING_TTL_MS: "1500",
  };
});
afterAll(async () => {
  for (const i of running) await i.stop().catch(() => {});
  await sim?.close();
  await broker?.close();
  await db?.drop();
});

async function boot(): Promise<Instance> {
  const instance = await startInstance(loadConfig(env), { db, logger: silentLogger });
  running.push(instance);
  return instance;
}

async function call(instance: Instance, method: string, path: string, body?: unknown) {
  const res = await fetch(instance.url + BASE + path, {
    method,
    headers: { authorization: `Bearer ${TOKENS.internal}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe("cabinets: restarts", () => {
  it("a booking expires by its durable timer after the instance that made it was killed", async () => {
    const first = await boot();
    expect((await call(first, "PUT", "/cabinets/CAB-R", { lat: 55.7, lon: 37.6 })).status).toBe(201);
    await eventually(async () => (await call(first, "GET", "/cabinets/CAB-R")).body.cells.length === 4);
    const booking = await call(first, "POST", "/cabinets/CAB-R/bookings", { kind: "issue", count: 2, contractor_id: "tech-z" });
    expect(booking.status).toBe(201);
    const opened = await call(first, "POST", "/cabinets/CAB-R/bookings", { kind: "issue", count: 1, contractor_id: "tech-z" });
    const openReply = await call(first, "POST", `/cabinets/CAB-R/bookings/${opened.body.booking_id}/open`);
    expect(openReply.status).toBe(200);

    first.system.crash(); // as a killed process: nothing in memory survives
    await first.stop();
    await new Promise((r) => setTimeout(r, 1_600)); // the expiry falls due while no instance runs

    const second = await boot();
    await eventually(async () => (await call(second, "GET", "/cabinets/CAB-R")).body.bookings.length === 0, 10_000);
    const view = (await call(second, "GET", "/cabinets/CAB-R")).body;
    expect(view.cells.filter((c: { booking_id: string | null }) => c.booking_id !== null)).toEqual([]);
    const late = await call(second, "POST", `/cabinets/CAB-R/bookings/${booking.body.booking_id}/open`);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe("booking_expired");
    // The one opened before the restart still answers from its record, and nothing unlocks again.
    const replay = await call(second, "POST", `/cabinets/CAB-R/bookings/${opened.body.booking_id}/open`);
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ cells: openReply.body.cells, replayed: true });
    expect(sim.cabinet("CAB-R").stats.unlocks).toHaveLength(1);
    // The freed accumulators can be booked again.
    expect((await call(second, "POST", "/cabinets/CAB-R/bookings", { kind: "issue", count: 2, contractor_id: "tech-y" })).status).toBe(201);
  });
});
