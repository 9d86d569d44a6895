// Many bookings at once on one cabinet, through HTTP: the cabinet actor takes them one at a time,
// so no accumulator and no cell is ever reserved twice, and exactly as many succeed as there is room.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  h = await startCabinetHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("cabinets: concurrent bookings", () => {
  it("60 parallel issue bookings for 1-3 accumulators share 20 accumulators without overlap", async () => {
    await h.cabinet(cabinetSpec("CAB-RUSH", { cells: 24, charged: 20 }));
    const counts = Array.from({ length: 60 }, (_, i) => 1 + (i % 3));
    const results = await Promise.all(counts.map((count, i) => h.book("CAB-RUSH", { kind: "issue", count, contractor_id: `tech-${i}` })));
    const won = results.filter((r) => r.status === 201);
    const lost = results.filter((r) => r.status !== 201);
    expect(lost.every((r) => r.status === 409 && r.body.code === "not_enough_accumulators")).toBe(true);
    const accumulators = won.flatMap((r) => r.body.accumulators.map((a: { accumulator_id: string }) => a.accumulator_id));
    const cells = won.flatMap((r) => r.body.cells);
    expect(new Set(accumulators).size).toBe(accumulators.length);
    expect(new Set(cells).size).toBe(cells.length);
    // Taken until fewer remained than the smallest request: at most 0 left over.
    expect(accumulators.length).toBe(20);
    const view = (await h.call("GET", "/cabinets/CAB-RUSH")).body;
    expect(view.bookings).toHaveLength(won.length);
    expect(view.cells.filter((c: { booking_id: string | null }) => c.booking_id !== null)).toHaveLength(20);
  });

  it("parallel return bookings and opens never hand out the same empty cell twice", async () => {
    await h.cabinet(cabinetSpec("CAB-BACK", { cells: 10, charged: 0 }));
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => h.book("CAB-BACK", { kind: "return", count: 1, contractor_id: `tech-${i}` })));
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(10);
    expect(new Set(won.map((r) => r.body.cells[0])).size).toBe(10);
    const opens = await Promise.all(won.map((r) => h.open("CAB-BACK", r.body.booking_id)));
    expect(opens.map((r) => r.status)).toEqual(won.map(() => 200));
    expect(new Set(opens.map((r) => r.body.cells[0].cell)).size).toBe(10);
    expect(h.sim.cabinet("CAB-BACK").stats.unlocks).toHaveLength(10);
  });
});
