// The seed's flow end to end through HTTP, the cabinet and accumulator actors, MQTT (a Mosquitto
// of our own) and simulated cabinets: find charged accumulators, book, open, hand them to a
// technician, swap them into scooters, return the discharged ones into another cabinet.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;

beforeAll(async () => {
  h = await startCabinetHarness();
  const near = cabinetSpec("CAB-NEAR", { cells: 6, charged: 4, lat: 55.751, lon: 37.618 });
  near.cells[3]!.charge = 40; // one that is not charged enough
  near.cells[1]!.charge = 99;
  await h.cabinet(near);
  await h.cabinet(cabinetSpec("CAB-FAR", { cells: 4, charged: 1, lat: 55.8, lon: 37.7 }));
});
afterAll(async () => {
  await h?.close();
});

describe("cabinets: the seed's flow", () => {
  it("issue, swap and return: every accumulator ends where it physically is", async () => {
    // 2. Where are charged accumulators? Nearest first.
    const list = await h.call("GET", "/cabinets?lat=55.75&lon=37.61&min_charge=80");
    expect(list.status).toBe(200);
    expect(list.body.items.map((c: { cabinet_id: string }) => c.cabinet_id)).toEqual(["CAB-NEAR", "CAB-FAR"]);
    expect(list.body.items[0]).toMatchObject({ online: true, charged_available: 3, empty_cells_available: 2 });
    expect(list.body.items[0].distance_m).toBeLessThan(list.body.items[1].distance_m);

    // 3-4. Book two: the fullest ones are reserved.
    const booking = await h.book("CAB-NEAR", { kind: "issue", count: 2, contractor_id: "tech-7", min_charge: 80 });
    expect(booking.status).toBe(201);
    expect(booking.body).toMatchObject({
      cabinet_id: "CAB-NEAR",
      kind: "issue",
      cells: [2, 1],
      accumulators: [
        { cell: 2, accumulator_id: "CAB-NEAR-A2", charge: 99 },
        { cell: 1, accumulator_id: "CAB-NEAR-A1", charge: 95 },
      ],
    });
    expect(Date.parse(booking.body.expires_at)).toBeGreaterThan(Date.now());
    expect((await h.call("GET", "/cabinets?min_charge=80")).body.items[0].charged_available).toBe(1);

    // 6-8. The technician is there: open. The cells open, the accumulators are the technician's.
    const opened = await h.open("CAB-NEAR", booking.body.booking_id);
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({
      booking_id: booking.body.booking_id,
      cells: [
        { cell: 2, accumulator_id: "CAB-NEAR-A2" },
        { cell: 1, accumulator_id: "CAB-NEAR-A1" },
      ],
      failed: [],
      late: false,
      replayed: false,
    });
    const held = await h.call("GET", "/contractors/tech-7/accumulators");
    expect(held.body.items.map((a: { accumulator_id: string; taken_from: unknown }) => [a.accumulator_id, a.taken_from])).toEqual([
      ["CAB-NEAR-A1", { cabinet_id: "CAB-NEAR", cell: 1 }],
      ["CAB-NEAR-A2", { cabinet_id: "CAB-NEAR", cell: 2 }],
    ]);
    // Emptied by the unlock; the simulated technician took them and shut the doors.
    await eventually(async () => (await h.call("GET", "/cabinets/CAB-NEAR")).body.cells[0].open === false);
    expect((await h.call("GET", "/cabinets/CAB-NEAR")).body.cells.slice(0, 2)).toEqual([
      { cell: 1, accumulator_id: null, charge: null, booking_id: null, open: false, written_off: false },
      { cell: 2, accumulator_id: null, charge: null, booking_id: null, open: false, written_off: false },
    ]);

    // 10-11. Swaps: the charged one into the scooter, the discharged one to the technician.
    for (const [scooter, installed, removed] of [
      ["SC-1", "CAB-NEAR-A1", "OLD-1"],
      ["SC-2", "CAB-NEAR-A2", "OLD-2"],
    ] as const) {
      const swap = await h.call("POST", `/scooters/${scooter}/swap`, {
        contractor_id: "tech-7",
        installed_accumulator_id: installed,
        removed_accumulator_id: removed,
      });
      expect(swap.status).toBe(200);
      expect(swap.body.installed).toMatchObject({ accumulator_id: installed, location: "scooter", scooter_id: scooter, contractor_id: "tech-7" });
      expect(swap.body.removed).toMatchObject({ accumulator_id: removed, location: "contractor", contractor_id: "tech-7", scooter_id: null });
    }
    expect((await h.call("GET", "/contractors/tech-7/accumulators")).body.items.map((a: { accumulator_id: string }) => a.accumulator_id)).toEqual([
      "OLD-1",
      "OLD-2",
    ]);

    // Return: book empty cells in another cabinet, open them, put the discharged ones in.
    const back = await h.book("CAB-FAR", { kind: "return", count: 2, contractor_id: "tech-7" });
    expect(back.status).toBe(201);
    expect(back.body).toMatchObject({ kind: "return", cells: [2, 3], accumulators: [] });
    const openBack = await h.open("CAB-FAR", back.body.booking_id);
    expect(openBack.status).toBe(200);
    expect(openBack.body.cells).toEqual([
      { cell: 2, accumulator_id: null },
      { cell: 3, accumulator_id: null },
    ]);
    const far = h.sim.cabinet("CAB-FAR");
    await far.insert(2, "OLD-1", 12);
    await far.insert(3, "OLD-2", 7);

    await eventually(async () => (await h.call("GET", "/contractors/tech-7/accumulators")).body.items.length === 0);
    expect((await h.call("GET", "/accumulators/OLD-1")).body).toMatchObject({ location: "cabinet", cabinet_id: "CAB-FAR", cell: 2, contractor_id: null });
    expect((await h.call("GET", "/accumulators/OLD-2")).body).toMatchObject({ location: "cabinet", cabinet_id: "CAB-FAR", cell: 3 });
    const farView = (await h.call("GET", "/cabinets/CAB-FAR")).body;
    expect(farView.bookings).toEqual([]); // completed: every opened cell closed
    expect(farView.cells.map((c: { accumulator_id: string | null }) => c.accumulator_id)).toEqual(["CAB-FAR-A1", "OLD-1", "OLD-2", null]);
    // The next poll brings the charges the cabinet measures.
    await eventually(async () => (await h.call("GET", "/accumulators/OLD-1")).body.charge === 12);

    const stats = (await h.call("GET", "/stats")).body;
    expect(stats.accumulators).toMatchObject({ cabinet: 5, contractor: 0, scooter: 2, unknown: 0, total: 7 });
    expect(stats.charge_histogram.find((b: { from: number }) => b.from === 90).count).toBe(2);
    expect(stats.charge_histogram.find((b: { from: number }) => b.from === 40).count).toBe(1);
    // The same as Prometheus gauges (the seed's product metrics).
    const metrics = await (await fetch(`${h.app.url}/metrics`)).text();
    for (const line of [
      'fleet_accumulators{location="cabinet"} 5',
      'fleet_accumulators{location="contractor"} 0',
      'fleet_accumulators{location="scooter"} 2',
      'fleet_accumulators_in_cabinets_by_charge{band="90-100"} 2',
      'fleet_accumulators_in_cabinets_by_charge{band="40-49"} 1',
    ])
      expect(metrics).toContain(line);
    expect(stats.cabinets.find((c: { cabinet_id: string }) => c.cabinet_id === "CAB-FAR")).toMatchObject({
      cells: 4,
      accumulators: 3,
      empty_cells: 1,
      booked_cells: 0,
      online: true,
    });
  });

  it("register - PUT again moves the cabinet (200), the list and the view follow", async () => {
    const moved = await h.call("PUT", "/cabinets/CAB-FAR", { lat: 55.7, lon: 37.5 });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ cabinet_id: "CAB-FAR", lat: 55.7, lon: 37.5, online: true });
    const list = await h.call("GET", "/cabinets?lat=55.7&lon=37.5");
    expect(list.body.items[0].cabinet_id).toBe("CAB-FAR");
  });
});
