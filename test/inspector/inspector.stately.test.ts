// INSPECT_STATELY_URL: an instance streams its actors' transitions in Stately's inspector protocol
// to a WebSocket (here a hyper-express WebSocket server standing for Stately's relay), through
// the runtime's own WebSocket client: each actor announced once with its machine definition, then
// one snapshot message per transition; and it reconnects after the receiver goes away.
import HyperExpress from "hyper-express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "../services/cabinets.support.ts";

let h: CabinetHarness;
let receiver: HyperExpress.Server;
const messages: any[] = [];
let connections = 0;
let last: HyperExpress.Websocket | undefined;

beforeAll(async () => {
  receiver = new HyperExpress.Server({ auto_close: false });
  receiver.ws("/", (ws) => {
    connections++;
    last = ws;
    ws.on("message", (text: string) => void messages.push(JSON.parse(text)));
  });
  await receiver.listen(0, "127.0.0.1");
  const port = (receiver as unknown as { port: number }).port;
  h = await startCabinetHarness({ CABINET_REPORT_HEARTBEAT_MS: "600000", INSPECT_STATELY_URL: `ws://127.0.0.1:${port}/` });
  await eventually(() => connections === 1);
}, 60_000);
afterAll(async () => {
  await h?.close();
  await receiver?.shutdown();
});

describe("Stately inspector stream", () => {
  it("announces an actor with its machine definition, then a snapshot per transition", async () => {
    await h.cabinet(cabinetSpec("CAB-S1", { cells: 2, charged: 1, lat: 55.75, lon: 37.61 }));
    const announced = await eventually(() => messages.find((m) => m.type === "@xstate.actor" && m.name === "cabinet/CAB-S1"));
    expect(announced).toMatchObject({ sessionId: expect.any(String), _version: expect.any(String), snapshot: { status: "active" } });
    const definition = JSON.parse(announced.definition);
    expect(definition.id).toBe("cabinet");
    expect(Object.keys(definition.states)).toEqual(expect.arrayContaining(["unregistered", "registered", "decommissioned"]));
    const registered = await eventually(() =>
      messages.find((m) => m.type === "@xstate.snapshot" && m.sessionId === announced.sessionId && m.event.type === "register"),
    );
    expect(registered.snapshot.value).toMatchObject({ registered: { connectivity: "online" } });
    expect(registered.event.replyTo).toBeUndefined();
    expect(messages.filter((m) => m.type === "@xstate.actor" && m.sessionId === announced.sessionId)).toHaveLength(1);
  });

  it("connects again once the receiver closed the connection", async () => {
    last!.close();
    await eventually(() => connections === 2, 15_000);
    const before = messages.length;
    const booked = await h.book("CAB-S1", { kind: "issue", count: 1, contractor_id: "tech-s", min_charge: 50 });
    expect(booked.status).toBe(201);
    // A new connection announces the actor again, then its transition.
    const snapshot = await eventually(() => messages.slice(before).find((m) => m.type === "@xstate.snapshot" && m.event.type === "book"));
    expect(messages.slice(before).some((m) => m.type === "@xstate.actor" && m.sessionId === snapshot.sessionId)).toBe(true);
  });
});
