// Bad input to the cabinet routes: unknown ids 404, malformed bodies and queries 400 naming the
// field, conflicts 409, the wrong role 403; nothing changes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOKENS } from "../support/instance.ts";
import { BASE, cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  h = await startCabinetHarness();
  await h.cabinet(cabinetSpec("CAB-IN", { cells: 4, charged: 2 }));
});
afterAll(async () => {
  await h?.close();
});

const fields = (res: { body: { details?: { fields?: { path: string }[] } } }) => res.body.details?.fields?.map((f) => f.path);

describe("cabinets: bad input", () => {
  it("unknown cabinet, booking or accumulator is 404", async () => {
    expect((await h.call("GET", "/cabinets/CAB-NOPE")).status).toBe(404);
    expect((await h.book("CAB-NOPE", { kind: "issue", count: 1, contractor_id: "t" })).status).toBe(404);
    expect((await h.open("CAB-NOPE", "b-1")).status).toBe(404);
    expect((await h.open("CAB-IN", "no-such-booking")).status).toBe(404);
    expect((await h.call("DELETE", "/cabinets/CAB-IN/bookings/no-such-booking")).status).toBe(404);
    expect((await h.call("GET", "/accumulators/ACC-NOPE")).status).toBe(404);
    expect((await h.call("GET", "/contractors/nobody/accumulators")).body.items).toEqual([]);
  });

  it("count <= 0, a fraction or a string is 400 naming body.count; unknown fields and kinds too", async () => {
    for (const count of [0, -1, 1.5, "2", null]) {
      const res = await h.call("POST", "/cabinets/CAB-IN/bookings", { kind: "issue", count, contractor_id: "t" });
      expect(res.status, `count ${JSON.stringify(count)}`).toBe(400);
      expect(fields(res)).toEqual(["body.count"]);
    }
    expect(fields(await h.call("POST", "/cabinets/CAB-IN/bookings", { kind: "lend", count: 1, contractor_id: "t" }))).toEqual(["body.kind"]);
    expect(fields(await h.call("POST", "/cabinets/CAB-IN/bookings", { kind: "issue", count: 1 }))).toEqual(["body.contractor_id"]);
    expect(fields(await h.call("POST", "/cabinets/CAB-IN/bookings", { kind: "issue", count: 1, contractor_id: "t", min_charge: 101 }))).toEqual([
      "body.min_charge",
    ]);
    expect(fields(await h.call("POST", "/cabinets/CAB-IN/bookings", { kind: "issue", count: 1, contractor_id: "t", colour: "red" }))).toEqual(["body.colour"]);
    expect((await h.call("GET", "/cabinets/CAB-IN")).body.bookings).toEqual([]);
  });

  it("registration and list queries are validated", async () => {
    expect(fields(await h.call("PUT", "/cabinets/CAB-X", { lat: 91, lon: 0 }))).toEqual(["body.lat"]);
    expect(fields(await h.call("PUT", "/cabinets/bad+id", { lat: 1, lon: 1 }))).toEqual(["params.cabinet_id"]);
    expect(fields(await h.call("GET", "/cabinets?lat=55.7"))).toEqual(["query.lon"]);
    expect(fields(await h.call("GET", "/cabinets?min_charge=abc"))).toEqual(["query.min_charge"]);
    expect(fields(await h.call("GET", "/cabinets?limit=0"))).toEqual(["query.limit"]);
    expect((await h.call("GET", "/cabinets/CAB-X")).status).toBe(404);
  });

  it("more than the cabinet has is 409 so the caller tries another cabinet", async () => {
    const issue = await h.book("CAB-IN", { kind: "issue", count: 3, contractor_id: "t" });
    expect(issue.status).toBe(409);
    expect(issue.body.code).toBe("not_enough_accumulators");
    const back = await h.book("CAB-IN", { kind: "return", count: 3, contractor_id: "t" });
    expect(back.status).toBe(409);
    expect(back.body.code).toBe("not_enough_empty_cells");
    const charged = await h.book("CAB-IN", { kind: "issue", count: 1, contractor_id: "t", min_charge: 99 });
    expect(charged.body.code).toBe("not_enough_accumulators");
  });

  it("a cabinet registered but never heard from answers bookings 503 cabinet_unresponsive, not 409: its cells are unknown", async () => {
    expect((await h.call("PUT", "/cabinets/CAB-UNHEARD", { lat: 55.7, lon: 37.6 })).status).toBe(201); // no device behind it
    for (const kind of ["issue", "return"] as const) {
      const res = await h.book("CAB-UNHEARD", { kind, count: 1, contractor_id: "t" });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("cabinet_unresponsive");
    }
  });

  it("swap of an accumulator the contractor does not hold is 409 and moves nothing", async () => {
    const notHeld = await h.call("POST", "/scooters/SC-9/swap", {
      contractor_id: "tech-x",
      installed_accumulator_id: "CAB-IN-A1",
      removed_accumulator_id: "OLD-9",
    });
    expect(notHeld.status).toBe(409);
    expect(notHeld.body.code).toBe("not_held_by_contractor");
    expect((await h.call("GET", "/accumulators/CAB-IN-A1")).body).toMatchObject({ location: "cabinet" });
    expect((await h.call("GET", "/accumulators/OLD-9")).status).toBe(404);
    const same = await h.call("POST", "/scooters/SC-9/swap", { contractor_id: "tech-x", installed_accumulator_id: "A", removed_accumulator_id: "A" });
    expect(fields(same)).toEqual(["body.removed_accumulator_id"]);
  });

  it("a swap held by another technician is 409; by the holder it works once, and its repeat answers the same", async () => {
    const booking = await h.book("CAB-IN", { kind: "issue", count: 1, contractor_id: "tech-a" });
    const open = await h.open("CAB-IN", booking.body.booking_id);
    const id = open.body.cells[0].accumulator_id;
    const swap = { installed_accumulator_id: id, removed_accumulator_id: "OLD-A" };
    expect((await h.call("POST", "/scooters/SC-1/swap", { contractor_id: "tech-b", ...swap })).status).toBe(409);
    const first = await h.call("POST", "/scooters/SC-1/swap", { contractor_id: "tech-a", ...swap });
    expect(first.status).toBe(200);
    const repeat = await h.call("POST", "/scooters/SC-1/swap", { contractor_id: "tech-a", ...swap });
    expect(repeat.status).toBe(200);
    expect(repeat.body.installed).toEqual(first.body.installed);
    expect((await h.call("POST", "/scooters/SC-2/swap", { contractor_id: "tech-a", ...swap })).status).toBe(409);
  });

  it("a swap never takes the removed one out of a cabinet cell or another technician's hands, and a scooter never holds two", async () => {
    await h.cabinet(cabinetSpec("CAB-SW", { cells: 4, charged: 3 }));
    const take = async (contractor: string) => {
      const booking = await h.book("CAB-SW", { kind: "issue", count: 1, contractor_id: contractor });
      return (await h.open("CAB-SW", booking.body.booking_id)).body.cells[0].accumulator_id as string;
    };
    const x = await take("tech-c");
    const z = await take("tech-d");
    const inCabinet = (await h.call("GET", "/cabinets/CAB-SW")).body.cells.find((c: { accumulator_id: string | null }) => c.accumulator_id)
      .accumulator_id as string;
    const where = async (id: string) => (await h.call("GET", `/accumulators/${id}`)).body;

    const fromCell = await h.call("POST", "/scooters/SC-5/swap", { contractor_id: "tech-c", installed_accumulator_id: x, removed_accumulator_id: inCabinet });
    expect(fromCell.status).toBe(409);
    expect(fromCell.body.code).toBe("removed_not_in_scooter");
    expect(await where(inCabinet)).toMatchObject({ location: "cabinet", cabinet_id: "CAB-SW" });
    const fromOther = await h.call("POST", "/scooters/SC-6/swap", { contractor_id: "tech-c", installed_accumulator_id: x, removed_accumulator_id: z });
    expect(fromOther.status).toBe(409);
    expect(await where(z)).toMatchObject({ location: "contractor", contractor_id: "tech-d" });
    expect(await where(x)).toMatchObject({ location: "contractor", contractor_id: "tech-c" });

    expect(
      (await h.call("POST", "/scooters/SC-7/swap", { contractor_id: "tech-c", installed_accumulator_id: x, removed_accumulator_id: "OLD-7" })).status,
    ).toBe(200);
    const second = await h.call("POST", "/scooters/SC-7/swap", { contractor_id: "tech-d", installed_accumulator_id: z, removed_accumulator_id: "OLD-8" });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: "scooter_holds_another", details: { accumulator_id: x } });
    expect(await where(z)).toMatchObject({ location: "contractor", contractor_id: "tech-d" });
  });

  it("another role's token is 403, none is 401", async () => {
    const res = await h.app.call("GET", `${BASE}/cabinets`, { token: TOKENS.fleet });
    expect(res.status).toBe(403);
    expect((await h.app.call("GET", `${BASE}/stats`, { token: null })).status).toBe(401);
  });
});
