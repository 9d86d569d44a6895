// Polling through a whole instance with unchanged reports held back (a heartbeat of a minute): a
// report the cabinet actor ignored must not be taken for the one it knows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../../storage/actorStore.ts";
import { eventually } from "../support/harness.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  // A long unlock timeout leaves polls room to be answered while an unlock waits.
  h = await startCabinetHarness({ CABINET_REPORT_HEARTBEAT_MS: "60000", CABINET_COMMAND_TIMEOUT_MS: "4000" });
});
afterAll(async () => {
  await h?.close();
});

const cellsOf = async (cabinetId: string) => (await h.call("GET", `/cabinets/${cabinetId}`)).body;

describe("cabinets: polling", () => {
  it("a report ignored mid-unlock reaches the cabinet again unchanged: the cells are current one poll after the unlock ends (regression: dropped as unchanged until the heartbeat)", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-MID", { cells: 4, charged: 2, charge: 95 }));
    const booking = await h.book("CAB-MID", { kind: "issue", count: 1, contractor_id: "tech-m" });
    expect(booking.status).toBe(201);
    // The unlock is lost: the actor waits for its answer the whole command timeout.
    cab.faults.silent = true;
    const open = h.open("CAB-MID", booking.body.booking_id);
    await eventually(async () => (await cellsOf("CAB-MID")).bookings[0]?.status === "opening", 5_000);
    // Meanwhile a technician puts an accumulator into the empty cell 4 by hand, and the device answers polls again.
    cab.cells.set(4, { accumulator_id: "HAND-1", charge: 70, open: false });
    const inventoryBefore = cab.stats.inventory;
    cab.faults.silent = false;
    await eventually(() => cab.stats.inventory > inventoryBefore + 1, 3_000);
    expect((await cellsOf("CAB-MID")).bookings[0]?.status).toBe("opening"); // those reports came mid-unlock
    expect((await cellsOf("CAB-MID")).cells[3]).toMatchObject({ cell: 4, accumulator_id: null });

    expect((await open).status).toBe(504);
    // The device reports the same cells as before; the actor has not taken them yet, so they pass.
    await eventually(async () => (await cellsOf("CAB-MID")).cells[3]?.accumulator_id === "HAND-1", 5_000);
    expect((await cellsOf("CAB-MID")).cells[3]).toMatchObject({ cell: 4, accumulator_id: "HAND-1", charge: 70 });
    // The accumulator follows through the outbox.
    await eventually(async () => (await h.call("GET", "/accumulators/HAND-1")).body.location === "cabinet", 5_000);
    expect((await h.call("GET", "/accumulators/HAND-1")).body).toMatchObject({ location: "cabinet", cabinet_id: "CAB-MID", cell: 4 });
  });

  it("an unchanged report moves the row's last_report_at without a turn of the cabinet actor; the actor's next commit never moves it back", async () => {
    await h.cabinet(cabinetSpec("CAB-SEEN", { cells: 2, charged: 1, charge: 90 }));
    const first = (await cellsOf("CAB-SEEN")).last_report_at as string;
    const version = (await loadSnapshot(h.app.testDb.sql, "cabinet", "CAB-SEEN"))!.version;
    await eventually(async () => (await cellsOf("CAB-SEEN")).last_report_at > first, 15_000);
    expect((await loadSnapshot(h.app.testDb.sql, "cabinet", "CAB-SEEN"))!.version).toBe(version);

    const seen = (await cellsOf("CAB-SEEN")).last_report_at as string;
    expect((await h.book("CAB-SEEN", { kind: "issue", count: 1, contractor_id: "tech-s" })).status).toBe(201);
    expect((await cellsOf("CAB-SEEN")).last_report_at >= seen).toBe(true);
  });
});
