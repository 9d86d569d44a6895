// Opens queued on one slow cabinet: the route's deadline covers the wait in the queue. An open its
// caller was told "not done" (504) never reassigns later, unless the device really opened, and
// then the next open reports it as late.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  // Command timeout 400 ms: an open asks for 2 x 400 + 2000 ms; the device takes 300 ms per unlock.
  h = await startCabinetHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("cabinets: queued opens", () => {
  it("twelve opens queued behind each other on a slow cabinet: every 504 left its accumulator in the cabinet, or is reported late", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-QUEUE", { cells: 12, charged: 12 }));
    const bookings = [];
    for (let i = 0; i < 12; i++) {
      const b = await h.book("CAB-QUEUE", { kind: "issue", count: 1, contractor_id: `tech-q${i}` });
      expect(b.status).toBe(201);
      bookings.push(b.body);
    }
    cab.faults.slowMs = 300;
    const opens = await Promise.all(bookings.map((b) => h.open("CAB-QUEUE", b.booking_id)));
    const refused = bookings.filter((_, i) => opens[i]!.status === 504);
    expect(opens.filter((o) => o.status === 200).length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0); // the queue outlasted some callers' deadlines
    for (const o of opens.filter((o) => o.status === 504)) expect(o.body.code).toBe("cabinet_not_responding");

    cab.faults.slowMs = 0;
    await new Promise((r) => setTimeout(r, 800)); // any late device answer is in by now
    for (const b of refused) {
      const accumulator = b.accumulators[0].accumulator_id as string;
      const unlocked = cab.stats.unlocks.some((id) => id.startsWith(`${b.booking_id}.`));
      const where = (await h.call("GET", `/accumulators/${accumulator}`)).body;
      if (!unlocked) {
        // Never sent: still in its cell, and the booking is usable again.
        expect(where).toMatchObject({ location: "cabinet", cabinet_id: "CAB-QUEUE" });
        const again = await h.open("CAB-QUEUE", b.booking_id);
        expect(again.status).toBe(200);
        expect(again.body.late).toBe(false);
      } else {
        // The device opened after the caller gave up: the next open reports it, as late.
        const again = await h.open("CAB-QUEUE", b.booking_id);
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ late: true, replayed: true });
      }
    }
  }, 60_000);
});
