// Taking things out of service through HTTP: a cabinet decommissioned (refused while in use, gone
// afterwards: lists, lookups, polling), an accumulator written off (refused while booked, never
// offered again, out of the product gauges).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  h = await startCabinetHarness();
});
afterAll(async () => {
  await h?.close();
});

const accumulator = async (id: string) => (await h.call("GET", `/accumulators/${id}`)).body;
const listed = async () => (await h.call("GET", "/cabinets?min_charge=0&limit=1000")).body.items as { cabinet_id: string; charged_available: number }[];
const metric = async (line: string) => {
  const text = await (await fetch(`${h.app.url}/metrics`)).text();
  return Number(
    text
      .split("\n")
      .find((l) => l.startsWith(line))
      ?.split(" ")
      .at(-1) ?? Number.NaN,
  );
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("cabinets: decommission", () => {
  it("DELETE - refused 409 cabinet_in_use while a booking is active; then 204 and gone: not listed, 404, its accumulators unknown, no more polls", async () => {
    const cab = await h.cabinet(cabinetSpec("CAB-OLD", { cells: 4, charged: 2 }));
    const booking = await h.book("CAB-OLD", { kind: "issue", count: 1, contractor_id: "tech-d" });
    const refused = await h.call("DELETE", "/cabinets/CAB-OLD");
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: "cabinet_in_use" });
    expect(refused.body.message).toContain(booking.body.booking_id);
    expect((await h.call("GET", "/cabinets/CAB-OLD")).status).toBe(200);

    expect((await h.call("DELETE", `/cabinets/CAB-OLD/bookings/${booking.body.booking_id}`)).status).toBe(200);
    const gone = await h.call("DELETE", "/cabinets/CAB-OLD");
    expect(gone.status).toBe(204);
    expect((await h.call("GET", "/cabinets/CAB-OLD")).status).toBe(404);
    expect((await listed()).map((c) => c.cabinet_id)).not.toContain("CAB-OLD");
    expect((await h.book("CAB-OLD", { kind: "issue", count: 1, contractor_id: "tech-d" })).status).toBe(404);
    // A retry finds it gone, like any unknown id; its id is not registered again.
    expect((await h.call("DELETE", "/cabinets/CAB-OLD")).status).toBe(404);
    const again = await h.call("PUT", "/cabinets/CAB-OLD", { lat: 55.7, lon: 37.6 });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("cabinet_decommissioned");
    await eventually(async () => (await accumulator("CAB-OLD-A1")).location === "unknown", 5_000);
    expect(await accumulator("CAB-OLD-A2")).toMatchObject({ location: "unknown", cabinet_id: null, cell: null });
    // The pollers drop it at their next refresh of the list.
    await eventually(async () => {
      const before = cab.stats.commands;
      await sleep(600); // four poll intervals
      return cab.stats.commands === before;
    }, 10_000);
  });

  it("DELETE - two at once: one 204, the other 204 or 404, never a 5xx; an unknown id is 404, another role 403", async () => {
    await h.cabinet(cabinetSpec("CAB-TWICE", { cells: 2, charged: 1 }));
    const both = await Promise.all([h.call("DELETE", "/cabinets/CAB-TWICE"), h.call("DELETE", "/cabinets/CAB-TWICE")]);
    expect(both.map((r) => r.status)).toContain(204);
    for (const r of both) expect([204, 404]).toContain(r.status);
    await eventually(async () => (await accumulator("CAB-TWICE-A1")).location === "unknown", 5_000);
    expect((await h.call("DELETE", "/cabinets/CAB-NEVER")).status).toBe(404);
    const other = await h.app.call("DELETE", "/scooter-accumulator/v1/cabinets/CAB-NEVER", { token: TOKENS.fleet });
    expect(other.status).toBe(403);
  });
});

describe("accumulators: write-off", () => {
  it("in a cabinet - 409 accumulator_booked while booked; then written off: never offered again, out of availability and the gauges; a repeat answers the same", async () => {
    await h.cabinet(cabinetSpec("CAB-WO", { cells: 4, charged: 2, charge: 95 }));
    await eventually(async () => (await accumulator("CAB-WO-A1"))?.location === "cabinet" && (await accumulator("CAB-WO-A2"))?.location === "cabinet", 5_000);
    const inCabinets = await metric('fleet_accumulators{location="cabinet"}');
    const charged = await metric('fleet_accumulators_in_cabinets_by_charge{band="90-100"}');
    const booking = await h.book("CAB-WO", { kind: "issue", count: 2, contractor_id: "tech-w" });
    const refused = await h.call("POST", "/accumulators/CAB-WO-A1/write-off");
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("accumulator_booked");
    expect(await accumulator("CAB-WO-A1")).toMatchObject({ location: "cabinet" });

    await h.call("DELETE", `/cabinets/CAB-WO/bookings/${booking.body.booking_id}`);
    const done = await h.call("POST", "/accumulators/CAB-WO-A1/write-off", undefined, { "idempotency-key": "wo-1" });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ accumulator_id: "CAB-WO-A1", location: "written_off", cabinet_id: null, cell: null, charge: 95 });
    const view = (await h.call("GET", "/cabinets/CAB-WO")).body;
    expect(view.cells[0]).toMatchObject({ cell: 1, accumulator_id: "CAB-WO-A1", written_off: true });
    expect((await listed()).find((c) => c.cabinet_id === "CAB-WO")?.charged_available).toBe(1);
    const tooMany = await h.book("CAB-WO", { kind: "issue", count: 2, contractor_id: "tech-w", min_charge: 0 });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body.code).toBe("not_enough_accumulators");
    const one = await h.book("CAB-WO", { kind: "issue", count: 1, contractor_id: "tech-w" });
    expect(one.body.accumulators).toEqual([{ cell: 2, accumulator_id: "CAB-WO-A2", charge: 95 }]);
    await h.call("DELETE", `/cabinets/CAB-WO/bookings/${one.body.booking_id}`);
    expect(await metric('fleet_accumulators{location="cabinet"}')).toBe(inCabinets - 1);
    expect(await metric('fleet_accumulators_in_cabinets_by_charge{band="90-100"}')).toBe(charged - 1);

    // Repeats: the same answer, by key or without; the device reporting it in its cell changes nothing.
    const replayed = await h.app.call("POST", "/scooter-accumulator/v1/accumulators/CAB-WO-A1/write-off", {
      token: TOKENS.internal,
      headers: { "idempotency-key": "wo-1" },
    });
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(replayed.body).toEqual(done.body);
    h.sim.cabinet("CAB-WO").cells.get(1)!.charge = 40; // a new charge: the cabinet tells the accumulator again
    await eventually(async () => (await h.call("GET", "/cabinets/CAB-WO")).body.cells[0].charge === 40, 5_000);
    const repeat = await h.call("POST", "/accumulators/CAB-WO-A1/write-off");
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ location: "written_off", charge: 95 });
    expect((await h.call("GET", "/cabinets/CAB-WO")).body.cells[0]).toMatchObject({ written_off: true });
  });

  it("with a technician or in a scooter - written off at once; never installed again, but a swap may take it out of the scooter, and it stays written off", async () => {
    await h.cabinet(cabinetSpec("CAB-WS", { cells: 4, charged: 2 }));
    const booking = await h.book("CAB-WS", { kind: "issue", count: 2, contractor_id: "tech-x" });
    expect((await h.open("CAB-WS", booking.body.booking_id)).status).toBe(200);
    // CAB-WS-A1 goes into scooter S-WO, then breaks there.
    const swap = await h.call("POST", "/scooters/S-WO/swap", {
      contractor_id: "tech-x",
      installed_accumulator_id: "CAB-WS-A1",
      removed_accumulator_id: "OLD-WS",
    });
    expect(swap.status).toBe(200);
    expect((await h.call("POST", "/accumulators/CAB-WS-A1/write-off")).body).toMatchObject({ location: "written_off", scooter_id: null });
    const contractors = await metric('fleet_accumulators{location="contractor"}');
    expect((await h.call("POST", "/accumulators/CAB-WS-A2/write-off")).body).toMatchObject({ location: "written_off", contractor_id: null });
    expect(await metric('fleet_accumulators{location="contractor"}')).toBe(contractors - 1);
    expect((await h.call("GET", "/contractors/tech-x/accumulators")).body.items.map((a: { accumulator_id: string }) => a.accumulator_id)).toEqual(["OLD-WS"]);

    // A written-off one is never installed again.
    const reinstall = await h.call("POST", "/scooters/S-WO2/swap", {
      contractor_id: "tech-x",
      installed_accumulator_id: "CAB-WS-A2",
      removed_accumulator_id: "OLD-WS2",
    });
    expect(reinstall.status).toBe(409);
    expect(reinstall.body.code).toBe("accumulator_written_off");

    // The broken one comes out of the scooter in the next swap; it does not come back to life.
    const out = await h.call("POST", "/scooters/S-WO/swap", {
      contractor_id: "tech-x",
      installed_accumulator_id: "OLD-WS",
      removed_accumulator_id: "CAB-WS-A1",
    });
    expect(out.status).toBe(200);
    expect(out.body.removed).toMatchObject({ accumulator_id: "CAB-WS-A1", location: "written_off" });
    expect(out.body.installed).toMatchObject({ accumulator_id: "OLD-WS", location: "scooter", scooter_id: "S-WO" });
  });

  it("unknown accumulator is 404, another role 403", async () => {
    expect((await h.call("POST", "/accumulators/NO-SUCH/write-off")).status).toBe(404);
    expect((await h.app.call("POST", "/scooter-accumulator/v1/accumulators/NO-SUCH/write-off", { token: TOKENS.driver })).status).toBe(403);
  });
});
