// The inspector's API (role admin) against a whole instance with simulated cabinets: auth, kinds,
// live and passivated lookup, the machine graph, history with time travel, "what if" (never
// committed), the live feed, and the routes in the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../../storage/actorStore.ts";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";
import { openFeed } from "../support/feed.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "../services/cabinets.support.ts";

let h: CabinetHarness;
const admin = (method: string, path: string, body?: unknown, token: string | null = TOKENS.admin) =>
  h.app.call(method, path, { token, ...(body === undefined ? {} : { body }) });

beforeAll(async () => {
  // Unchanged inventory reports stay out of the actor: its journal holds only real changes.
  h = await startCabinetHarness({ CABINET_REPORT_HEARTBEAT_MS: "600000" });
  await h.cabinet(cabinetSpec("CAB-I1", { cells: 4, charged: 3, lat: 55.75, lon: 37.61 }));
}, 60_000);
afterAll(async () => {
  await h?.close();
});

const routes: [string, string, unknown?][] = [
  ["GET", "/inspector/api/kinds"],
  ["GET", "/inspector/api/kinds/cabinet/machine"],
  ["GET", "/inspector/api/kinds/cabinet/actors"],
  ["GET", "/inspector/api/actors/cabinet/CAB-I1"],
  ["GET", "/inspector/api/actors/cabinet/CAB-I1/history"],
  ["GET", "/inspector/api/cluster"],
  ["POST", "/inspector/api/actors/cabinet/CAB-I1/what-if", { event: { type: "release", booking_id: "x" } }],
  ["GET", "/inspector/api/feed"],
];

describe("inspector API", () => {
  it("answers 401 without a token, 403 with another role's, 200 with admin", async () => {
    for (const [method, path, body] of routes) {
      expect((await admin(method, path, body, null)).status, `${method} ${path} no token`).toBe(401);
      expect((await admin(method, path, body, TOKENS.internal)).status, `${method} ${path} internal`).toBe(403);
      expect((await admin(method, path, body, "not-a-token")).status, `${method} ${path} unknown`).toBe(401);
    }
    for (const [method, path, body] of routes.filter(([, p]) => !p.endsWith("/feed")))
      expect((await admin(method, path, body)).status, `${method} ${path}`).toBe(200);
  });

  it("the page itself carries no data and allows nothing from elsewhere", async () => {
    const res = await fetch(`${h.app.url}/inspector`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("admin token");
    expect(html).not.toContain("CAB-I1");
    expect(html).not.toContain(TOKENS.admin);
    // Nothing loaded from elsewhere (the SVG namespace URI is a name, not a fetch).
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\/|url\(\s*["']?(https?:)?\/\/|import\s*\(/);
    const policy = res.headers.get("content-security-policy")!;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("connect-src 'self'");
  });

  it("lists kinds with active actors per instance", async () => {
    const res = await admin("GET", "/inspector/api/kinds");
    expect(res.body.instances).toEqual([h.app.config.instanceId]);
    const cabinet = res.body.items.find((k: { type: string }) => k.type === "cabinet");
    expect(cabinet).toMatchObject({ type: "cabinet", version: 3, total_active: 1, active: { [h.app.config.instanceId]: 1 } });
    expect(res.body.items.map((k: { type: string }) => k.type)).toEqual(expect.arrayContaining(["accumulator", "mailing", "krt-session", "matching"]));
  });

  it("lists a kind's actors: active per instance and stored, by id prefix", async () => {
    const res = await admin("GET", "/inspector/api/kinds/accumulator/actors?prefix=CAB-I1-A&limit=2");
    expect(res.status).toBe(200);
    expect(res.body.live).toEqual([{ instance: h.app.config.instanceId, count: 3, ids: ["CAB-I1-A1", "CAB-I1-A2"] }]);
    expect(res.body.stored.map((s: { id: string }) => s.id)).toEqual(["CAB-I1-A1", "CAB-I1-A2"]);
    const none = await admin("GET", "/inspector/api/kinds/accumulator/actors?prefix=ZZZ");
    expect(none.body).toMatchObject({ live: [{ count: 0, ids: [] }], stored: [] });
    expect((await admin("GET", "/inspector/api/kinds/accumulator/actors?limit=0")).status).toBe(400);
  });

  it("draws the machine: nested states, transitions with events and guards, event schemas", async () => {
    const res = await admin("GET", "/inspector/api/kinds/cabinet/machine");
    const { graph, events } = res.body;
    const paths = graph.states.map((s: { path: string }) => s.path);
    expect(paths).toEqual(
      expect.arrayContaining(["", "unregistered", "registered", "registered.connectivity.online", "registered.command.unlocking", "decommissioned"]),
    );
    expect(graph.states.find((s: { path: string }) => s.path === "registered").type).toBe("parallel");
    expect(graph.transitions).toContainEqual(expect.objectContaining({ source: "unregistered", event: "register", targets: ["registered"] }));
    expect(graph.transitions).toContainEqual(
      expect.objectContaining({
        source: "registered.connectivity.online",
        event: "poll_missed",
        targets: ["registered.connectivity.unresponsive"],
        guard: expect.any(String),
      }),
    );
    const book = events.find((e: { type: string }) => e.type === "book");
    expect(book.schema.required).toEqual(expect.arrayContaining(["booking_id", "count", "kind", "contractor_id"]));
    expect((await admin("GET", "/inspector/api/kinds/nope/machine")).status).toBe(404);
  });

  it("looks an actor up live, and from its snapshot once passivated", async () => {
    const live = await admin("GET", "/inspector/api/actors/cabinet/CAB-I1");
    expect(live.body).toMatchObject({ type: "cabinet", id: "CAB-I1", source: "live", instance: h.app.config.instanceId });
    expect(live.body.active_states).toEqual(expect.arrayContaining(["registered", "registered.connectivity.online", "registered.command.idle"]));
    expect(live.body.context.cells).toHaveLength(4);
    expect(live.body.last_event).toMatchObject({ type: expect.any(String), at: expect.any(String) });

    // Accumulator actors are passivated once idle; the snapshot answers for them.
    const accumulator = live.body.context.cells[0].accumulator_id as string;
    await eventually(async () => (await admin("GET", `/inspector/api/actors/accumulator/${accumulator}`)).status === 200);
    await h.app.system.host.passivateIdle(0);
    await eventually(() => !h.app.system.host.hosted().some((c) => c.key === `accumulator/${accumulator}`));
    const stored = await admin("GET", `/inspector/api/actors/accumulator/${accumulator}`);
    expect(stored.body).toMatchObject({ source: "snapshot", id: accumulator });
    expect(stored.body.version).toBeGreaterThanOrEqual(1);
    expect((await admin("GET", "/inspector/api/actors/cabinet/NOPE")).status).toBe(404);
  });

  it("history: each transition with the context as it was, and the diff to the next", async () => {
    const booked = await h.book("CAB-I1", { kind: "issue", count: 1, contractor_id: "tech-h", min_charge: 50 });
    expect(booked.status).toBe(201);
    const bookingId = booked.body.booking_id as string;
    const res = await admin("GET", "/inspector/api/actors/cabinet/CAB-I1/history?limit=200");
    expect(res.status).toBe(200);
    expect(res.body.replay).toBe("exact");
    const items = res.body.items as any[]; // newest first
    const bookIndex = items.findIndex((i) => i.event.type === "book");
    expect(bookIndex).toBeGreaterThanOrEqual(0);
    const book = items[bookIndex];
    const before = items[bookIndex + 1];
    expect(book.context.bookings.map((b: { booking_id: string }) => b.booking_id)).toContain(bookingId);
    expect(before.context.bookings.map((b: { booking_id: string }) => b.booking_id)).not.toContain(bookingId);
    expect(before.diff_to_next.some((d: { path: string }) => d.path.startsWith("bookings"))).toBe(true);
    // The newest rebuilt context is the live one.
    const live = await admin("GET", "/inspector/api/actors/cabinet/CAB-I1");
    expect(items[0].context).toEqual(live.body.context);
    expect(items.at(-1).event.type).toBe("xstate.init");
  });

  it("what if: state, context diff and actions, never committed", async () => {
    const before = await loadSnapshot(h.app.db.sql, "cabinet", "CAB-I1");
    const res = await admin("POST", "/inspector/api/actors/cabinet/CAB-I1/what-if", {
      event: { type: "book", booking_id: "what-if-1", kind: "issue", count: 1, contractor_id: "tech-w", min_charge: 10, ttl_ms: 60000 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: true, validated: true });
    expect(res.body.diff.some((d: { path: string }) => d.path.startsWith("bookings"))).toBe(true);
    expect(res.body.actions.length).toBeGreaterThan(0);
    const after = await loadSnapshot(h.app.db.sql, "cabinet", "CAB-I1");
    expect(after).toEqual(before);
    const live = await admin("GET", "/inspector/api/actors/cabinet/CAB-I1");
    expect(live.body.context.bookings.map((b: { booking_id: string }) => b.booking_id)).not.toContain("what-if-1");

    const bad = await admin("POST", "/inspector/api/actors/cabinet/CAB-I1/what-if", {
      event: { type: "book", booking_id: "w2", kind: "issue", count: 0, contractor_id: "tech-w", min_charge: 10, ttl_ms: 60000 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.fields.map((f: { path: string }) => f.path)).toEqual(["body.event.count"]);
    const unknown = await admin("POST", "/inspector/api/actors/cabinet/CAB-I1/what-if", { event: { type: "fly" } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details.fields[0].path).toBe("body.event.type");
    const refused = await admin("POST", "/inspector/api/actors/cabinet/CAB-I1/what-if", { event: { type: "install", cell: 1 } });
    expect(refused.status).toBe(400);
  });

  it("what if an open: it would start the unlock, yet no command reaches the cabinet", async () => {
    const booked = await h.book("CAB-I1", { kind: "issue", count: 1, contractor_id: "tech-o", min_charge: 50 });
    expect(booked.status).toBe(201);
    const device = h.sim.cabinets.get("CAB-I1")!;
    const unlocks = [...device.stats.unlocks];
    const before = await loadSnapshot(h.app.db.sql, "cabinet", "CAB-I1");
    const res = await admin("POST", "/inspector/api/actors/cabinet/CAB-I1/what-if", { event: { type: "open", booking_id: booked.body.booking_id } });
    expect(res.status).toBe(200);
    expect(res.body.state).toMatchObject({ registered: { command: "unlocking" } });
    expect(res.body.actions.map((a: { type: string }) => a.type)).toContain("xstate.spawnChild");
    // The machine asks its device through a command; a real unlock would show in the simulator.
    const polls = device.stats.commands;
    await eventually(() => device.stats.commands > polls);
    expect(device.stats.unlocks).toEqual(unlocks);
    expect(await loadSnapshot(h.app.db.sql, "cabinet", "CAB-I1")).toEqual(before);
  });

  it("feeds live transitions over server-sent events, filtered by kind and id", async () => {
    expect(h.app.inspection.watched).toBe(false);
    const feed = await openFeed(h.app.url, TOKENS.admin, { kind: "cabinet", id: "CAB-I1" });
    expect(feed.status).toBe(200);
    try {
      await eventually(() => h.app.inspection.watched);
      const booked = await h.book("CAB-I1", { kind: "issue", count: 1, contractor_id: "tech-f", min_charge: 50 });
      expect(booked.status).toBe(201);
      const record = await eventually(() => feed.records.find((r) => r.event.type === "book" && r.event.booking_id === booked.body.booking_id));
      expect(record).toMatchObject({ type: "cabinet", id: "CAB-I1", instance: h.app.config.instanceId });
      expect(record.context.bookings.map((b: { booking_id: string }) => b.booking_id)).toContain(booked.body.booking_id);
      expect(feed.records.every((r) => r.type === "cabinet" && r.id === "CAB-I1")).toBe(true);
    } finally {
      feed.close();
    }
    // The watcher said goodbye: the instance stops listening to its actors.
    await eventually(() => !h.app.inspection.watched);
  });

  it("lists every inspector route in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${h.app.url}/openapi.json`)).json()) as any;
    for (const path of [
      "/inspector/api/kinds",
      "/inspector/api/kinds/{type}/machine",
      "/inspector/api/kinds/{type}/actors",
      "/inspector/api/actors/{type}/{id}",
      "/inspector/api/actors/{type}/{id}/history",
      "/inspector/api/actors/{type}/{id}/what-if",
      "/inspector/api/cluster",
      "/inspector/api/feed",
      "/inspector",
    ])
      expect(doc.paths[path], path).toBeDefined();
    expect(doc.paths["/inspector/api/feed"].get.responses["200"].content["text/event-stream"]).toBeDefined();
    expect(doc.paths["/inspector/api/actors/{type}/{id}/what-if"].post["x-role"]).toBe("admin");
  });
});
