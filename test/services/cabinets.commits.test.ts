// The commits on a book+open's path: the open's turn and the unlock's answer land in one commit,
// and the route's repeat of the accumulator moves (delivered by the cabinet's outbox too) adds none.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorSystem } from "../../actors/ActorSystem.ts";
import { RESUME_TIMER } from "../../actors/ActorCell.ts";
import { InProcessTransport } from "../../actors/transport/InProcessTransport.ts";
import type { CabinetDevices } from "../../integrations/cabinet/index.ts";
import type { BookingReply, OpenReply } from "../../machines/cabinet.machine.ts";
import { cabinetKind } from "../../services/cabinets/cabinetKind.ts";
import { accumulatorKind } from "../../services/cabinets/accumulatorKind.ts";
import { loadSnapshot } from "../../storage/actorStore.ts";
import { silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase("cabcommits");
});
afterAll(async () => {
  await db.drop();
});

/** A device answering every unlock on the next turn of the event loop, opening every cell asked. */
const devices: CabinetDevices = {
  inventory: () => Promise.reject(new Error("not polled here")),
  unlock: (_cabinet, request_id, cells) =>
    new Promise((resolve) => setImmediate(() => resolve({ type: "unlock_result", request_id, opened: [...cells], failed: [] }))),
};

describe("cabinets: commits of an open", () => {
  it("the open's turn waits for the unlock's answer and lands with it: one commit, no resume timer written", async () => {
    const system = new ActorSystem({
      sql: db.sql,
      kinds: [cabinetKind({ devices, now: Date.now }), accumulatorKind()],
      transport: new InProcessTransport(),
      logger: silentLogger,
      resumeAfterMs: 60_000,
    });
    await system.ask("cabinet/C1", { type: "register", lat: 55.7, lon: 37.6 });
    await system.ask("cabinet/C1", { type: "inventory_reported", polled_at: Date.now(), cells: [{ cell: 1, accumulator_id: "A1", charge: 90 }] });
    const booked = await system.ask<BookingReply>("cabinet/C1", {
      type: "book",
      booking_id: "B1",
      kind: "issue",
      count: 1,
      contractor_id: "tech-1",
      min_charge: 50,
      ttl_ms: 60_000,
    });
    const bookedVersion = (await loadSnapshot(db.sql, "cabinet", "C1"))!.version;

    const opened = await system.ask<OpenReply>("cabinet/C1", { type: "open", booking_id: booked.booking_id });
    expect(opened.cells).toEqual([{ cell: 1, accumulator_id: "A1" }]);

    // One commit since the booking's: the open's turn was not committed alone before the answer.
    const stored = (await loadSnapshot(db.sql, "cabinet", "C1"))!;
    expect(stored.version).toBe(bookedVersion + 1);
    expect(stored.snapshot).toMatchObject({
      context: { bookings: [{ booking_id: "B1", request_ids: ["B1.1"], result: { opened: [{ cell: 1, accumulator_id: "A1" }] } }] },
    });
    const resumeTimers = await db.sql`select 1 from actor_timers where actor_id = 'C1' and timer_key = ${RESUME_TIMER}`;
    expect(resumeTimers).toHaveLength(0);
    await system.stop();
  });

  it("a repeated accumulator move is refused without a turn: its tell resolves, nothing is committed or journalled", async () => {
    const system = new ActorSystem({ sql: db.sql, kinds: [accumulatorKind()], transport: new InProcessTransport(), logger: silentLogger });
    const move = { type: "located", stamp: 10, location: { kind: "contractor", contractor_id: "tech-1", from: { cabinet_id: "C2", cell: 1 } } };
    await system.tell("accumulator/A2", move);
    const first = (await loadSnapshot(db.sql, "accumulator", "A2"))!;
    const journal = () => db.sql`select 1 from actor_journal where actor_type = 'accumulator' and actor_id = 'A2'`;
    const journalled = (await journal()).length;
    await system.tell("accumulator/A2", move);
    await system.tell("accumulator/A2", { ...move, stamp: 5, location: { kind: "cabinet", cabinet_id: "C2", cell: 1, charge: 90 } });
    const stored = (await loadSnapshot(db.sql, "accumulator", "A2"))!;
    expect(stored.version).toBe(first.version);
    expect(stored.snapshot).toMatchObject({ value: "with_contractor", context: { stamp: 10 } });
    expect(await journal()).toHaveLength(journalled);
    await system.stop();
  });
});
