// The cabinet machine as a model: every state the traversal reaches keeps the cell and booking
// invariants; plus scenarios checking the effects it emits (replies, timers, accumulator moves).
import { describe, expect, it } from "vitest";
import { createActor, fromPromise, type SnapshotFrom } from "xstate";
import { getShortestPaths } from "xstate/graph";
import { cabinetMachine, type CabinetEvent, type UnlockAnswer, type UnlockInput } from "../../machines/cabinet.machine.ts";
import { violations } from "./cabinetInvariants.ts";
import { isActive } from "../../machines/cabinetCells.ts";
import { cabinetKind } from "../../services/cabinets/cabinetKind.ts";
import type { Effect } from "../../actors/protocol.ts";

type Snapshot = SnapshotFrom<typeof cabinetMachine>;
const at = 1_000;
const TTL = 60_000;
const LIMIT = 2;

const register = { type: "register", at, lat: 55.75, lon: 37.61 } as const;
const book = (booking_id: string, kind: "issue" | "return", count: number, min_charge = 50) =>
  ({ type: "book", at, booking_id, kind, count, contractor_id: "tech-1", min_charge, ttl_ms: TTL }) as const;
const report = (polled_at = at): CabinetEvent =>
  ({
    type: "inventory_reported",
    at,
    polled_at,
    cells: [
      { cell: 1, accumulator_id: "A", charge: 90 },
      { cell: 2, accumulator_id: "B", charge: 60 },
      { cell: 3, accumulator_id: null, charge: null },
      { cell: 4, accumulator_id: "C", charge: 20 },
    ],
  }) as CabinetEvent;

function eventsFor(s: Snapshot): CabinetEvent[] {
  const c = s.context;
  const events: unknown[] = [
    register,
    report(),
    book("i1", "issue", 1),
    book("i2", "issue", 2, 10),
    book("r1", "return", 1),
    { type: "open", at, booking_id: "i1" },
    { type: "open", at, booking_id: "r1" },
    { type: "release", at, booking_id: "i1" },
    { type: "booking_expired", at, booking_id: "i1" },
    { type: "booking_expired", at, booking_id: "r1" },
    { type: "cell_closed", at, cell: 3, accumulator_id: "R" },
    { type: "cell_closed", at, cell: 1, accumulator_id: null },
    { type: "unlock_result_late", at, request_id: "i1.1", opened: [1], failed: [] },
    { type: "write_off", at, accumulator_id: "A" },
    { type: "decommission", at },
  ];
  if (c.unlocking) {
    const b = c.bookings.find((x) => x.booking_id === c.unlocking)!;
    events.push(
      { type: "xstate.done.actor.unlockCells", output: { request_id: b.request_ids.at(-1), opened: b.cells, failed: [], at } },
      { type: "xstate.error.actor.unlockCells", error: { code: "cabinet_not_responding", message: "silent", at } },
      { type: "xstate.error.actor.unlockCells", error: { code: "cabinet_not_responding", message: "silent", at: at + TTL } },
    );
  }
  return events as CabinetEvent[];
}

// Bookings and commands; connectivity is an independent region, explored on its own below.
const paths = getShortestPaths(cabinetMachine, {
  input: { id: "CAB-1" },
  events: eventsFor,
  serializeState: (s) => {
    const c = s.context;
    // Retries and missed polls could grow forever; past a few they are all alike.
    const bookings = c.bookings.map((b) => [b.booking_id, b.status, Math.min(b.request_ids.length, 2), b.closed, b.result?.late]);
    return JSON.stringify([s.value, c.cells, bookings, c.queue, c.unlocking, Math.min(c.missed_polls, LIMIT), c.written_off]);
  },
});

const connectivityPaths = getShortestPaths(cabinetMachine, {
  input: { id: "CAB-1" },
  events: (s) => {
    const events: unknown[] = [register, report(), { type: "poll_missed", at, limit: LIMIT }, book("i1", "issue", 1), { type: "open", at, booking_id: "i1" }];
    if (s.context.unlocking) events.push({ type: "xstate.done.actor.unlockCells", output: { request_id: "i1.1", opened: [1], failed: [], at } });
    return events as CabinetEvent[];
  },
  serializeState: (s) =>
    JSON.stringify([s.value, s.context.bookings.map((b) => b.status), Math.min(s.context.missed_polls, LIMIT + 1), s.context.cells.length]),
});

describe("cabinet machine (model)", () => {
  it("the traversal reaches every state of both regions", () => {
    const seen = new Set([...paths, ...connectivityPaths].map((p) => JSON.stringify(p.state.value)));
    for (const v of [
      "unregistered",
      { registered: { connectivity: "online", command: "idle" } },
      { registered: { connectivity: "online", command: "unlocking" } },
      { registered: { connectivity: "unresponsive", command: "idle" } },
      { registered: { connectivity: "unresponsive", command: "unlocking" } },
      "decommissioned",
    ]) {
      expect(seen.has(JSON.stringify(v)), JSON.stringify(v)).toBe(true);
    }
    const statuses = new Set(paths.flatMap((p) => p.state.context.bookings.map((b) => b.status)));
    expect([...statuses].sort()).toEqual(["booked", "completed", "expired", "opened", "opening", "released"]);
    expect(paths.length).toBeGreaterThan(200);
  });

  it("invariants hold in every reachable state (each is the end of its shortest path)", () => {
    const broken = [...paths, ...connectivityPaths].flatMap((p) =>
      violations(p.state.context, p.state.value, LIMIT).map((v) => `${v} after ${p.steps.map((s) => s.event.type).join(" > ")}`),
    );
    expect(broken.slice(0, 5)).toEqual([]);
  });

  it("decommissioned is final: reached only without active bookings, it takes no event at all", () => {
    const ends = paths.filter((p) => p.state.value === "decommissioned");
    expect(ends.length).toBeGreaterThan(0);
    for (const { state, steps } of ends) {
      expect(state.status, `${steps.map((s) => s.event.type).join(" > ")} ${String((state as { error?: unknown }).error)}`).toBe("done");
      expect(state.context.bookings.filter(isActive)).toEqual([]);
      for (const e of [...eventsFor(state), { type: "poll_missed", at, limit: LIMIT }, report()]) expect(state.can(e as CabinetEvent), e.type).toBe(false);
    }
  });
});

describe("cabinet machine (scenarios)", () => {
  function run() {
    const effects: Effect[] = [];
    const actor = createActor(cabinetMachine.provide({ actors: { unlockCells: fromPromise<UnlockAnswer, UnlockInput>(() => new Promise(() => {})) } }), {
      input: { id: "CAB-1" },
    });
    actor.on("*", (e) => effects.push(e as Effect));
    actor.start();
    actor.send(register);
    actor.send(report());
    effects.length = 0;
    return { actor, effects, send: (e: object) => actor.send(e as CabinetEvent) };
  }
  const replyTo = (effects: Effect[], to: string) =>
    effects.find((e) => e.type === "reply" && e.replyTo === to) as Extract<Effect, { type: "reply" }> | undefined;
  const done = (opened: number[], failed: number[] = [], request_id = "b1.1", when = at) => ({
    type: "xstate.done.actor.unlockCells",
    output: { request_id, opened, failed, at: when },
  });
  const silence = (when = at) => ({ type: "xstate.error.actor.unlockCells", error: { code: "cabinet_not_responding", message: "no answer", at: when } });

  it("book issue - reserves the fullest charged cells and arms a durable expiry", () => {
    const { send, effects } = run();
    send({ ...book("b1", "issue", 2), replyTo: "r1" });
    expect(replyTo(effects, "r1")?.reply).toEqual({
      ok: true,
      value: {
        booking_id: "b1",
        kind: "issue",
        contractor_id: "tech-1",
        cells: [1, 2],
        accumulators: [
          { cell: 1, accumulator_id: "A", charge: 90 },
          { cell: 2, accumulator_id: "B", charge: 60 },
        ],
        expires_at: at + TTL,
      },
    });
    expect(effects).toContainEqual({ type: "timer.set", key: "expire:b1", delayMs: TTL, event: { type: "booking_expired", booking_id: "b1" } });
  });

  it("book - not enough charged accumulators or empty cells is refused so the caller tries elsewhere", () => {
    const { send, effects } = run();
    send({ ...book("b1", "issue", 3), replyTo: "r1" });
    send({ ...book("b2", "return", 2), replyTo: "r2" });
    expect(replyTo(effects, "r1")?.reply).toMatchObject({ ok: false, code: "not_enough_accumulators" });
    expect(replyTo(effects, "r2")?.reply).toMatchObject({ ok: false, code: "not_enough_empty_cells" });
  });

  it("open - one unlock; the issued accumulators go to the contractor through the outbox", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1", replyTo: "o1" });
    expect(effects).toContainEqual({ type: "reply.defer", replyTo: "o1" });
    expect(actor.getSnapshot().matches({ registered: { command: "unlocking" } })).toBe(true);
    send({ type: "open", at, booking_id: "b1", replyTo: "o2" }); // joins the unlock in flight
    send(done([1]));
    for (const r of ["o1", "o2"])
      expect(replyTo(effects, r)?.reply).toMatchObject({ ok: true, value: { cells: [{ cell: 1, accumulator_id: "A" }], failed: [], late: false } });
    expect(effects).toContainEqual({
      type: "tell",
      to: "accumulator/A",
      event: { type: "located", stamp: at, location: { kind: "contractor", contractor_id: "tech-1", from: { cabinet_id: "CAB-1", cell: 1 } } },
    });
    expect(effects).toContainEqual({ type: "timer.cancel", key: "expire:b1" });
    expect(actor.getSnapshot().context.cells[0]).toEqual({ cell: 1, accumulator_id: null, charge: null, booking_id: null, open_until: at + TTL });
  });

  it("open - a repeat returns the recorded result without a second unlock", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1" });
    send(done([1]));
    send({ type: "open", at, booking_id: "b1", replyTo: "again" });
    expect(replyTo(effects, "again")?.reply).toMatchObject({ ok: true, value: { cells: [{ cell: 1, accumulator_id: "A" }], replayed: true } });
    expect(actor.getSnapshot().matches({ registered: { command: "idle" } })).toBe(true);
    expect(actor.getSnapshot().context.bookings[0]!.request_ids).toEqual(["b1.1"]);
  });

  it("open - no answer is cabinet_not_responding, nothing moves and the booking stays usable", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1", replyTo: "o1" });
    send(silence());
    expect(replyTo(effects, "o1")?.reply).toMatchObject({ ok: false, code: "cabinet_not_responding" });
    expect(effects.some((e) => e.type === "tell")).toBe(false);
    expect(actor.getSnapshot().context.bookings[0]).toMatchObject({ status: "booked", result: null });
    expect(actor.getSnapshot().context.cells[0]).toMatchObject({ accumulator_id: "A", booking_id: "b1" });
    send({ type: "open", at, booking_id: "b1" });
    expect(actor.getSnapshot().context.bookings[0]!.request_ids).toEqual(["b1.1", "b1.2"]);
  });

  it("late unlock_result - applied to a booking still held: the contractor gets them, the next open replays it as late", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1" });
    send(silence());
    send({ type: "unlock_result_late", at: at + 5, request_id: "b1.1", opened: [1], failed: [] });
    expect(effects).toContainEqual(expect.objectContaining({ type: "tell", to: "accumulator/A" }));
    send({ type: "open", at, booking_id: "b1", replyTo: "o2" });
    expect(replyTo(effects, "o2")?.reply).toMatchObject({ ok: true, value: { cells: [{ cell: 1, accumulator_id: "A" }], late: true, replayed: true } });
    expect(actor.getSnapshot().context.bookings[0]!.status).toBe("completed");
  });

  it("late unlock_result - for a released booking is not applied; the next report reconciles", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1" });
    send(silence());
    send({ type: "release", at, booking_id: "b1" });
    send({ type: "unlock_result_late", at: at + 5, request_id: "b1.1", opened: [1], failed: [] });
    expect(effects.some((e) => e.type === "tell")).toBe(false);
    expect(actor.getSnapshot().context.cells[0]).toMatchObject({ accumulator_id: "A", booking_id: null });
  });

  it("late unlock_result - while a retry waits, the record is taken and the retry is dropped", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send(book("b2", "issue", 1));
    send({ type: "open", at, booking_id: "b2" }); // occupies the command
    send({ type: "open", at, booking_id: "b1", replyTo: "o1" }); // queued
    send({ type: "unlock_result_late", at, request_id: "b1.1", opened: [1], failed: [] });
    expect(replyTo(effects, "o1")?.reply).toMatchObject({ ok: true, value: { late: true } });
    expect(actor.getSnapshot().context.queue).toEqual([]);
  });

  it("expiry - frees the cells; while an unlock is in flight it waits for the unlock's outcome", () => {
    const { actor, send } = run();
    send(book("b1", "issue", 1));
    send({ type: "booking_expired", at, booking_id: "b1" });
    expect(actor.getSnapshot().context.bookings[0]!.status).toBe("expired");
    expect(actor.getSnapshot().context.cells[0]!.booking_id).toBeNull();
    send(book("b2", "issue", 1));
    send({ type: "open", at, booking_id: "b2" });
    send({ type: "booking_expired", at: at + TTL, booking_id: "b2" });
    expect(actor.getSnapshot().context.bookings[1]!.status).toBe("opening");
    send({ ...silence(at + TTL), request_id: "b2.1" });
    expect(actor.getSnapshot().context.bookings[1]!.status).toBe("expired");
  });

  it("issue - while the opened door is open, reports still showing the accumulator inside do not undo the issue", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1" });
    send(done([1]));
    effects.length = 0;
    send({ ...report(at + 5), at: at + 5 }); // polled after the unlock, the technician not done yet
    expect(actor.getSnapshot().context.cells[0]).toMatchObject({ accumulator_id: null });
    expect(effects.filter((e) => e.type === "tell")).toEqual([]);
    send({ ...book("b2", "return", 2), replyTo: "r2" }); // the open door is not offered to anyone
    expect(replyTo(effects, "r2")?.reply).toMatchObject({ ok: false, code: "not_enough_empty_cells" });
    send({ type: "cell_closed", at: at + 9, cell: 1, accumulator_id: null });
    expect(actor.getSnapshot().context.cells[0]).toEqual({ cell: 1, accumulator_id: null, charge: null, booking_id: null, open_until: null });
  });

  it("return - open keeps the cells until cell_closed reports the accumulator in; it leaves the contractor", () => {
    const { actor, send, effects } = run();
    send(book("r1", "return", 1));
    send({ type: "open", at, booking_id: "r1", replyTo: "o1" });
    send(done([3], [], "r1.1"));
    expect(replyTo(effects, "o1")?.reply).toMatchObject({ ok: true, value: { cells: [{ cell: 3, accumulator_id: null }] } });
    expect(actor.getSnapshot().context.cells[2]!.booking_id).toBe("r1");
    send({ type: "cell_closed", at: at + 10, cell: 3, accumulator_id: "D" });
    expect(effects).toContainEqual({
      type: "tell",
      to: "accumulator/D",
      event: { type: "located", stamp: at + 10, location: { kind: "cabinet", cabinet_id: "CAB-1", cell: 3, charge: null } },
    });
    expect(actor.getSnapshot().context.cells[2]).toEqual({ cell: 3, accumulator_id: "D", charge: null, booking_id: null, open_until: null });
    expect(actor.getSnapshot().context.bookings[0]!.status).toBe("completed");
  });

  it("issue - a door closure that overtakes the unlock answer: the accumulator goes to the contractor, never missing", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1", replyTo: "o1" });
    send({ type: "cell_closed", at: at + 5, cell: 1, accumulator_id: null });
    expect(effects.filter((e) => e.type === "tell")).toEqual([]);
    send(done([1], [], "b1.1", at + 6));
    const tells = effects.filter((e) => e.type === "tell");
    expect(tells).toEqual([
      {
        type: "tell",
        to: "accumulator/A",
        event: { type: "located", stamp: at + 6, location: { kind: "contractor", contractor_id: "tech-1", from: { cabinet_id: "CAB-1", cell: 1 } } },
      },
    ]);
    expect(actor.getSnapshot().context.cells[0]).toMatchObject({ cell: 1, accumulator_id: null, booking_id: null });
    expect(actor.getSnapshot().context.closed_early).toEqual([]);
  });

  it("return - a door closure that overtakes the unlock answer still completes the booking", () => {
    const { actor, send } = run();
    send(book("r1", "return", 1));
    send({ type: "open", at, booking_id: "r1", replyTo: "o1" });
    send({ type: "cell_closed", at: at + 5, cell: 3, accumulator_id: "D" });
    send(done([3], [], "r1.1", at + 6));
    expect(actor.getSnapshot().context.cells[2]).toMatchObject({ cell: 3, accumulator_id: "D", booking_id: null });
    expect(actor.getSnapshot().context.bookings[0]!.status).toBe("completed");
  });

  it("a closure held during an unlock that gets no answer is applied all the same", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1", replyTo: "o1" });
    send({ type: "cell_closed", at: at + 5, cell: 1, accumulator_id: null });
    send(silence(at + 6));
    expect(effects).toContainEqual({ type: "tell", to: "accumulator/A", event: { type: "missing", stamp: at + 5, cabinet_id: "CAB-1", cell: 1 } });
    expect(actor.getSnapshot().context.cells[0]).toMatchObject({ cell: 1, accumulator_id: null });
  });

  it("a version-1 snapshot taken mid-unlock is migrated and holds an early closure", () => {
    const { actor, send } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1" });
    const persisted = actor.getPersistedSnapshot() as unknown as { context: Snapshot["context"] };
    const { closed_early: _, ...v1Context } = persisted.context;
    const kind = cabinetKind({ devices: {} as never, now: () => at });
    const migrated = kind.migrate!({ ...persisted, context: v1Context }, 1);
    const effects: Effect[] = [];
    const restored = createActor(cabinetMachine.provide({ actors: { unlockCells: fromPromise<UnlockAnswer, UnlockInput>(() => new Promise(() => {})) } }), {
      snapshot: migrated,
      input: { id: "CAB-1" },
    });
    restored.on("*", (e) => effects.push(e as Effect));
    restored.start();
    restored.send({ type: "cell_closed", at: at + 5, cell: 1, accumulator_id: null } as CabinetEvent);
    restored.send(done([1], [], "b1.1", at + 6) as CabinetEvent);
    expect(effects.filter((e) => e.type === "tell").map((e) => (e as { event: { type: string } }).event.type)).toEqual(["located"]);
  });

  it("polls - N missed make it unresponsive and bookings are refused; any report brings it back", () => {
    const { actor, send, effects } = run();
    send({ type: "poll_missed", at, limit: LIMIT });
    expect(actor.getSnapshot().matches({ registered: { connectivity: "online" } })).toBe(true);
    send({ type: "poll_missed", at, limit: LIMIT });
    expect(actor.getSnapshot().matches({ registered: { connectivity: "unresponsive" } })).toBe(true);
    send({ ...book("b1", "issue", 1), replyTo: "r1" });
    expect(replyTo(effects, "r1")?.reply).toMatchObject({ ok: false, code: "cabinet_unresponsive" });
    send(report());
    expect(actor.getSnapshot().matches({ registered: { connectivity: "online" } })).toBe(true);
    expect(actor.getSnapshot().context.missed_polls).toBe(0);
  });

  it("inventory - a report of a poll sent before the last device change proves life but changes no cell, and says it was not applied", () => {
    const { actor, send, effects } = run();
    send({ type: "cell_closed", at: at + 100, cell: 3, accumulator_id: "E" });
    send({ ...report(at + 50), at: at + 200, replyTo: "p1" });
    expect(actor.getSnapshot().context.cells[2]!.accumulator_id).toBe("E");
    expect(actor.getSnapshot().context.last_report_at).toBe(at + 200);
    expect(replyTo(effects, "p1")?.reply).toEqual({ ok: true, value: { applied: false } });
    send({ ...report(at + 300), at: at + 300, replyTo: "p2" });
    expect(replyTo(effects, "p2")?.reply).toEqual({ ok: true, value: { applied: true } });
  });

  it("inventory - a report mid-unlock is not applied and says so (the poller tells the same cells again)", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1" });
    const changed = { ...report(), cells: [...(report() as { cells: object[] }).cells.slice(0, 2), { cell: 3, accumulator_id: "HAND", charge: 70 }] };
    send({ ...changed, replyTo: "p1" });
    expect(replyTo(effects, "p1")?.reply).toEqual({ ok: true, value: { applied: false } });
    expect(actor.getSnapshot().context.cells[2]!.accumulator_id).toBeNull();
    send(silence());
    send({ ...changed, replyTo: "p2" });
    expect(replyTo(effects, "p2")?.reply).toEqual({ ok: true, value: { applied: true } });
    expect(actor.getSnapshot().context.cells[2]!.accumulator_id).toBe("HAND");
  });

  it("inventory - moved, recharged and vanished accumulators are told; unchanged ones are not", () => {
    const { send, effects } = run();
    send({
      type: "inventory_reported",
      at: 2_000,
      polled_at: 2_000,
      cells: [
        { cell: 1, accumulator_id: "A", charge: 90 },
        { cell: 2, accumulator_id: "B", charge: 70 },
        { cell: 3, accumulator_id: "C", charge: 20 },
        { cell: 4, accumulator_id: null, charge: null },
      ],
    });
    const told = effects.filter((e) => e.type === "tell").map((e) => (e as { to: string }).to);
    expect(told.sort()).toEqual(["accumulator/B", "accumulator/C"]);
  });

  it("decommission - refused while a booking is active; then final: its accumulators become unknown, nothing more is taken", () => {
    const { actor, send, effects } = run();
    send({ ...book("b1", "issue", 1), replyTo: "r1" });
    send({ type: "decommission", at, replyTo: "d1" });
    expect(replyTo(effects, "d1")?.reply).toMatchObject({ ok: false, code: "cabinet_in_use" });
    expect(actor.getSnapshot().status).toBe("active");
    send({ type: "release", at, booking_id: "b1" });
    effects.length = 0;
    send({ type: "decommission", at: at + 5, replyTo: "d2" });
    expect(replyTo(effects, "d2")?.reply).toEqual({ ok: true, value: { cabinet_id: "CAB-1", decommissioned: true } });
    expect(actor.getSnapshot().value).toBe("decommissioned");
    expect(actor.getSnapshot().status).toBe("done");
    const missing = effects.filter((e) => e.type === "tell").map((e) => (e as { to: string; event: object }).event);
    expect(missing).toEqual([1, 2, 4].map((cell) => ({ type: "missing", stamp: at + 5, cabinet_id: "CAB-1", cell })));
    expect(actor.getSnapshot().can({ type: "register", at, lat: 1, lon: 1 } as CabinetEvent)).toBe(false);
  });

  it("decommission - refused while an unlock is under way, even once a late answer settled its booking", () => {
    const { send, effects } = run();
    send(book("b1", "issue", 1));
    send({ type: "open", at, booking_id: "b1" });
    send({ type: "unlock_result_late", at, request_id: "b1.1", opened: [1], failed: [] });
    send({ type: "decommission", at, replyTo: "d1" });
    expect(replyTo(effects, "d1")?.reply).toMatchObject({ ok: false, code: "cabinet_in_use" });
  });

  it("write_off - refused for a booked accumulator; otherwise the accumulator is told and this cabinet never books it again", () => {
    const { actor, send, effects } = run();
    send(book("b1", "issue", 1)); // takes A, the fullest
    send({ type: "write_off", at, accumulator_id: "A", replyTo: "w1" });
    expect(replyTo(effects, "w1")?.reply).toMatchObject({ ok: false, code: "accumulator_booked" });
    send({ type: "write_off", at, accumulator_id: "B", replyTo: "w2" });
    expect(replyTo(effects, "w2")?.reply).toEqual({ ok: true, value: { accumulator_id: "B", cabinet_id: "CAB-1", cell: 2 } });
    expect(effects).toContainEqual({ type: "tell", to: "accumulator/B", event: { type: "write_off", cabinet_id: "CAB-1" } });
    send({ ...book("b2", "issue", 1, 10), replyTo: "r2" });
    expect(replyTo(effects, "r2")?.reply).toMatchObject({ ok: true, value: { cells: [4] } }); // C at 20%, not B at 60%
    send({ ...book("b3", "issue", 1, 10), replyTo: "r3" });
    expect(replyTo(effects, "r3")?.reply).toMatchObject({ ok: false, code: "not_enough_accumulators" });
    expect(actor.getSnapshot().context.written_off).toEqual(["B"]);
  });

  it("unregistered - bookings and opens are refused as not found", () => {
    const effects: Effect[] = [];
    const actor = createActor(cabinetMachine, { input: { id: "nope" } });
    actor.on("*", (e) => effects.push(e as Effect));
    actor.start();
    actor.send({ ...book("b1", "issue", 1), replyTo: "r1" } as CabinetEvent);
    expect(replyTo(effects, "r1")?.reply).toMatchObject({ ok: false, code: "not_found" });
    expect(actor.getSnapshot().can({ type: "poll_missed", at, limit: 2 })).toBe(false);
  });
});
