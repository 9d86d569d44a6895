// The list of cabinets counts as available only what a booking would take: a cell whose door is
// still open after an unlock is neither an empty cell nor a charged accumulator on offer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  // Doors stay open after an unlock until someone shuts them.
  h = await startCabinetHarness({}, { autoTake: false });
});
afterAll(async () => {
  await h?.close();
});

const listed = async (id: string) =>
  ((await h.call("GET", "/cabinets")).body.items as { cabinet_id: string; charged_available: number; empty_cells_available: number }[]).find(
    (c) => c.cabinet_id === id,
  )!;

describe("cabinets: availability", () => {
  it("an open door is not available: the list says what a booking then accepts, no more", async () => {
    await h.cabinet(cabinetSpec("CAB-AV", { cells: 4, charged: 2 }));
    expect(await listed("CAB-AV")).toMatchObject({ charged_available: 2, empty_cells_available: 2 });
    const issue = await h.book("CAB-AV", { kind: "issue", count: 1, contractor_id: "tech-av" });
    expect((await h.open("CAB-AV", issue.body.booking_id)).status).toBe(200); // its door stays open

    const now = await listed("CAB-AV");
    expect(now).toMatchObject({ charged_available: 1, empty_cells_available: 2 });
    expect((await h.book("CAB-AV", { kind: "return", count: now.empty_cells_available + 1, contractor_id: "tech-av" })).status).toBe(409);
    const back = await h.book("CAB-AV", { kind: "return", count: now.empty_cells_available, contractor_id: "tech-av" });
    expect(back.status).toBe(201);
  });
});
