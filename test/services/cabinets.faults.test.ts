// Cabinets that misbehave, through HTTP: silent (504, nothing reassigned, the booking stays
// usable), slow (the late unlock_result rule), unresponsive to polls (503, then recovery),
// malformed payloads (counted and ignored); and a repeated open that must not unlock twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  h = await startCabinetHarness();
});
afterAll(async () => {
  await h?.close();
});

const location = async (id: string) => (await h.call("GET", `/accumulators/${id}`)).body;
const holdings = async (contractor: string) =>
  (await h.call("GET", `/contractors/${contractor}/accumulators`)).body.items.map((a: { accumulator_id: string }) => a.accumulator_id);
const bookingsOf = async (cabinetId: string) => (await h.call("GET", `/cabinets/${cabinetId}`)).body.bookings;
const metric = async (line: RegExp) => {
  const text = await (await fetch(`${h.app.url}/metrics`)).text();
  return Number(
    text
      .split("\n")
      .find((l) => line.test(l))
      ?.split(" ")
      .at(-1) ?? 0,
  );
};

describe("cabinets: faults", () => {
  it("open - a silent cabinet answers 504 cabinet_not_responding, nothing is reassigned, and the booking stays usable", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-SILENT", { cells: 4, charged: 2 }));
    const booking = await h.book("CAB-SILENT", { kind: "issue", count: 1, contractor_id: "tech-s" });
    expect(booking.status).toBe(201);
    cab.faults.silent = true;
    const started = Date.now();
    const open = await h.open("CAB-SILENT", booking.body.booking_id);
    expect(open.status).toBe(504);
    expect(open.body.code).toBe("cabinet_not_responding");
    expect(Date.now() - started).toBeGreaterThanOrEqual(400); // CABINET_COMMAND_TIMEOUT_MS
    expect(await location("CAB-SILENT-A1")).toMatchObject({ location: "cabinet", cabinet_id: "CAB-SILENT", cell: 1 });
    expect(await holdings("tech-s")).toEqual([]);
    expect(await bookingsOf("CAB-SILENT")).toMatchObject([{ booking_id: booking.body.booking_id, status: "booked", cells: [1] }]);

    cab.faults.silent = false;
    const again = await h.open("CAB-SILENT", booking.body.booking_id);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ cells: [{ cell: 1, accumulator_id: "CAB-SILENT-A1" }], late: false });
    expect(cab.stats.unlocks).toEqual([`${booking.body.booking_id}.2`]); // the silent attempt opened nothing
    expect(await holdings("tech-s")).toEqual(["CAB-SILENT-A1"]);
  });

  it("open - repeated with the same booking returns the recorded result without a second unlock", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-REPEAT", { cells: 4, charged: 3 }));
    const booking = await h.book("CAB-REPEAT", { kind: "issue", count: 2, contractor_id: "tech-r" });
    const first = await h.open("CAB-REPEAT", booking.body.booking_id);
    const second = await h.open("CAB-REPEAT", booking.body.booking_id);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.cells).toEqual(first.body.cells);
    expect(second.body).toMatchObject({ replayed: true, opened_at: first.body.opened_at });
    expect(cab.stats.unlocks).toHaveLength(1);
    // Concurrent opens of one booking also share one unlock.
    const other = await h.book("CAB-REPEAT", { kind: "issue", count: 1, contractor_id: "tech-r" });
    const both = await Promise.all([h.open("CAB-REPEAT", other.body.booking_id), h.open("CAB-REPEAT", other.body.booking_id)]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    expect(both[0]!.body.cells).toEqual(both[1]!.body.cells);
    expect(cab.stats.unlocks).toHaveLength(2);
  });

  it("late unlock_result - applied to the booking still held: the contractor gets the accumulator, the next open replays it as late", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-LATE", { cells: 4, charged: 2 }));
    const booking = await h.book("CAB-LATE", { kind: "issue", count: 1, contractor_id: "tech-l" });
    cab.faults.slowMs = 900;
    const open = await h.open("CAB-LATE", booking.body.booking_id);
    expect(open.status).toBe(504);
    expect(await location("CAB-LATE-A1")).toMatchObject({ location: "cabinet" }); // at 504 time nothing moved
    // The device did open the cell; its answer comes after the timeout and is applied then.
    await eventually(async () => (await holdings("tech-l")).includes("CAB-LATE-A1"), 5_000);
    expect(await bookingsOf("CAB-LATE")).toEqual([]);
    cab.faults.slowMs = 0;
    const replay = await h.open("CAB-LATE", booking.body.booking_id);
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ cells: [{ cell: 1, accumulator_id: "CAB-LATE-A1" }], late: true, replayed: true });
    expect(cab.stats.unlocks).toHaveLength(1);
    expect(await metric(/^fleet_cabinet_late_replies_total\{type="unlock_result"\}/)).toBeGreaterThanOrEqual(1);
  });

  it("late unlock_result - for a booking released meanwhile is not applied; what the device reports next reconciles the cell", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-GONE", { cells: 4, charged: 2 }));
    const booking = await h.book("CAB-GONE", { kind: "issue", count: 1, contractor_id: "tech-g" });
    cab.faults.slowMs = 900;
    expect((await h.open("CAB-GONE", booking.body.booking_id)).status).toBe(504);
    const release = await h.call("DELETE", `/cabinets/CAB-GONE/bookings/${booking.body.booking_id}`);
    expect(release.body).toEqual({ booking_id: booking.body.booking_id, status: "released" });
    await eventually(() => cab.stats.unlocks.length === 1 && cab.cells.get(1)!.accumulator_id === null, 5_000);
    cab.faults.slowMs = 0;
    // The technician took it through the door nobody booked any more: nobody holds it, it is lost.
    await eventually(async () => (await location("CAB-GONE-A1")).location === "unknown", 5_000);
    expect(await holdings("tech-g")).toEqual([]);
  });

  it("polls - an unresponsive cabinet refuses bookings with 503 and recovers when it answers again", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-MUTE", { cells: 4, charged: 2 }));
    cab.faults.silent = true;
    await eventually(async () => (await h.call("GET", "/cabinets/CAB-MUTE")).body.online === false, 5_000);
    const list = await h.call("GET", "/cabinets");
    expect(list.body.items.find((c: { cabinet_id: string }) => c.cabinet_id === "CAB-MUTE")).toMatchObject({ online: false });
    const refused = await h.book("CAB-MUTE", { kind: "issue", count: 1, contractor_id: "tech-m" });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe("cabinet_unresponsive");
    cab.faults.silent = false;
    await eventually(async () => (await h.call("GET", "/cabinets/CAB-MUTE")).body.online === true, 5_000);
    expect((await h.book("CAB-MUTE", { kind: "issue", count: 1, contractor_id: "tech-m" })).status).toBe(201);
    expect(await metric(/^fleet_cabinet_polls_total\{outcome="missed"\}/)).toBeGreaterThanOrEqual(2);
  });

  it("malformed device payloads are counted and ignored; the cabinet keeps working", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-NOISY", { cells: 4, charged: 2 }));
    const before = await metric(/^fleet_cabinet_malformed_messages_total\{reason="invalid_payload"\}/);
    await cab.publishRaw("\u0000\u0001 not json at all");
    await cab.publishRaw(JSON.stringify({ type: "reboot_requested" }));
    await cab.publishRaw(JSON.stringify({ type: "inventory_report", cells: [{ cell: -1, accumulator_id: 7, charge: 140 }] }));
    await cab.publishRaw(JSON.stringify({ type: "cell_closed", cell: 2 }));
    await eventually(async () => (await metric(/^fleet_cabinet_malformed_messages_total\{reason="invalid_payload"\}/)) === before + 2);
    expect(await metric(/^fleet_cabinet_malformed_messages_total\{reason="invalid_json"\}/)).toBeGreaterThanOrEqual(1);
    expect(await metric(/^fleet_cabinet_malformed_messages_total\{reason="unknown_type"\}/)).toBeGreaterThanOrEqual(1);
    const view = (await h.call("GET", "/cabinets/CAB-NOISY")).body;
    expect(view.cells.map((c: { accumulator_id: string | null }) => c.accumulator_id)).toEqual(["CAB-NOISY-A1", "CAB-NOISY-A2", null, null]);
    const booking = await h.book("CAB-NOISY", { kind: "issue", count: 1, contractor_id: "tech-n" });
    expect((await h.open("CAB-NOISY", booking.body.booking_id)).status).toBe(200);
  });
});
