// The CRM tables port on the real Postgres and the CRM simulator over it: idempotent applications,
// pairings imported once (re-pairings again), day-7/14 results and promocodes on the caller's
// clock, several simulators over one schema, and the port's failures (unavailable, lost answers,
// refused data, rows off contract).
import { randomBytes, randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { PartnerProtocolError, PartnerRejectedError, PartnerUnavailableError } from "../../integrations/index.ts";
import { crmSimulator, postgresCrm, type CrmSimulator, type Mentor, type NewDriverRow } from "../../integrations/crm/index.ts";
import { openEmbedded } from "../../storage/database.ts";
import { DATABASE_URL, eventually } from "../support/harness.ts";
import { refusingUrl } from "./support.ts";

const sql = postgres(DATABASE_URL, { max: 6, onnotice: () => {} });
afterAll(async () => {
  await sql.end({ timeout: 5 });
});

const dayMs = 86_400_000;
const t0 = new Date("2026-12-01T10:00:00.000Z");
const at = (days: number) => new Date(t0.getTime() + days * dayMs);
const mentors: Mentor[] = [
  { park_id: "park-1", driver_id: "mentor-1" },
  { park_id: "park-2", driver_id: "mentor-2" },
];

let schema: string;
const sims: CrmSimulator[] = [];
const simulator = (options: { mentors?: readonly Mentor[]; promocodeShare?: number } = {}) => {
  const sim = crmSimulator({ sql, schema, mentors: options.mentors ?? mentors, promocodeShare: options.promocodeShare ?? 1 });
  sims.push(sim);
  return sim;
};
beforeEach(() => {
  schema = `crm_${randomBytes(5).toString("hex")}`;
});
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
  await sql`drop schema if exists ${sql(schema)} cascade`;
});

const application = (overrides: Partial<NewDriverRow> = {}): NewDriverRow => ({
  matching_id: randomUUID(),
  park_id: "park-1",
  driver_id: `newbie-${randomBytes(3).toString("hex")}`,
  city: "moscow",
  rented_car: false,
  phone_pd_id: "phone-pd-1",
  created_at: t0,
  ...overrides,
});

describe("CRM tables port", () => {
  it("writeNewDriver - creates its schema on first use, and a repeat of a matching (concurrent or later, other data) leaves the first row alone", async () => {
    const crm = postgresCrm(sql, schema);
    const other = postgresCrm(sql, schema); // a second instance starting at the same moment
    const row = application();
    await Promise.all([...Array.from({ length: 5 }, () => crm.writeNewDriver(row)), other.writeNewDriver(row)]);
    await crm.writeNewDriver({ ...row, city: "kazan", rented_car: true });
    const rows = await sql`select * from ${sql(schema)}.new_drivers`;
    expect(rows).toEqual([{ ...row, city: "moscow", rented_car: false }]);
  });

  it("readDistribution - a pairing is read until marked imported, never after; a re-pairing of the newbie is read again", async () => {
    const sim = simulator();
    const crm = sim.tables;
    const row = application();
    await crm.writeNewDriver(row);
    expect(await crm.readDistribution()).toEqual([]);
    await sim.tick(at(0));
    const [pairing] = await crm.readDistribution();
    expect(pairing).toEqual({
      newbie_matching_id: row.matching_id,
      mentor_park_id: "park-1",
      mentor_driver_id: "mentor-1",
      connected_dttm: at(0),
      original_connected_dttm: null,
    });
    await crm.markDistributionImported(row.matching_id, pairing!.connected_dttm);
    await crm.markDistributionImported(row.matching_id, pairing!.connected_dttm); // a retry
    expect(await crm.readDistribution()).toEqual([]);

    await sql`update ${sql(schema)}.distribution set mentor_driver_id = 'mentor-9', connected_dttm = ${at(1)}`;
    expect(await crm.readDistribution()).toMatchObject([{ mentor_driver_id: "mentor-9", connected_dttm: at(1), original_connected_dttm: at(0) }]);
    // A late mark of the first pairing neither hides the re-pairing nor moves the mark back.
    await crm.markDistributionImported(row.matching_id, at(0));
    expect(await crm.readDistribution()).toHaveLength(1);
    await crm.markDistributionImported(row.matching_id, at(1));
    expect(await crm.readDistribution()).toEqual([]);
  });

  it("markDistributionImported - a pairing stamped with microseconds (finer than a Date) is marked for good, not read for ever", async () => {
    const crm = postgresCrm(sql, schema);
    await crm.readDistribution(); // creates the schema
    await sql`insert into ${sql(schema)}.distribution (newbie_matching_id, mentor_park_id, mentor_driver_id, connected_dttm)
      values ('m-micro', 'park-1', 'mentor-1', '2026-12-01 10:00:00.123456+00')`;
    const [pairing] = await crm.readDistribution();
    expect(pairing!.connected_dttm).toEqual(new Date("2026-12-01T10:00:00.123Z"));
    await crm.markDistributionImported("m-micro", pairing!.connected_dttm);
    expect(await crm.readDistribution()).toEqual([]);
  });

  it("readResults and readPromocodes - only the asked matchings at the asked day; none asked reads nothing", async () => {
    const sim = simulator();
    const [a, b] = [application(), application()];
    for (const row of [a, b]) await sim.tables.writeNewDriver(row);
    await sim.tick(at(0));
    await sim.tick(at(14));
    const day7 = await sim.tables.readResults([a.matching_id, "unknown"], 7);
    expect(day7).toEqual([{ matching_id: a.matching_id, day: 7, result: expect.objectContaining({ rate_avg_7d: expect.any(String) }) }]);
    expect(await sim.tables.readResults([a.matching_id, b.matching_id], 14)).toHaveLength(2);
    expect(await sim.tables.readPromocodes([b.matching_id])).toEqual([
      { matching_id: b.matching_id, promocode: expect.stringMatching(/^MENTOR-/), issued_at: at(14) },
    ]);
    const before = sim.stats.calls;
    expect(await postgresCrm(sql, schema).readResults([], 7)).toEqual([]);
    expect(await postgresCrm(sql, schema).readPromocodes([])).toEqual([]);
    expect(sim.stats.calls).toBe(before);
  });
});

describe("CRM simulator", () => {
  it("tick - pairs every waiting newbie with the least loaded mentor, never with the newbie's own profile, each once", async () => {
    const sim = simulator();
    const rows = [application({ park_id: "park-1", driver_id: "mentor-1" }), application(), application(), application()];
    for (const [i, row] of rows.entries()) await sim.tables.writeNewDriver({ ...row, created_at: at(i / 100) });
    expect(await sim.tick(at(0.1))).toEqual({ paired: 4, results: 0, promocodes: 0 });
    const { distribution } = await sim.snapshot();
    const mentorOf = new Map(distribution.map((d) => [d.newbie_matching_id, d.mentor_driver_id]));
    expect(rows.map((r) => mentorOf.get(r.matching_id))).toEqual(["mentor-2", "mentor-1", "mentor-1", "mentor-2"]); // ties go to the first in the pool
    expect(await sim.tick(at(0.2))).toEqual({ paired: 0, results: 0, promocodes: 0 });
  });

  it("tick - with no mentor in the pool nobody is paired, and the newbies wait for a simulator that has one", async () => {
    const empty = simulator({ mentors: [] });
    const row = application();
    await empty.tables.writeNewDriver(row);
    expect(await empty.tick(at(1))).toMatchObject({ paired: 0 });
    expect(await simulator().tick(at(2))).toMatchObject({ paired: 1 });
  });

  it("tick - day-7 results once a pairing is 7 days old, day-14 results and promocodes at 14 days, each written once", async () => {
    const sim = simulator();
    const row = application();
    await sim.tables.writeNewDriver(row);
    await sim.tick(at(0));
    expect(await sim.tick(new Date(at(7).getTime() - 1))).toEqual({ paired: 0, results: 0, promocodes: 0 });
    expect(await sim.tick(at(7))).toEqual({ paired: 0, results: 1, promocodes: 0 });
    expect(await sim.tick(at(10))).toEqual({ paired: 0, results: 0, promocodes: 0 });
    expect(await sim.tick(at(14))).toEqual({ paired: 0, results: 1, promocodes: 1 });
    expect(await sim.tick(at(30))).toEqual({ paired: 0, results: 0, promocodes: 0 });
    const { results, promocodes } = await sim.snapshot();
    expect(results.map((r) => [r.day, Object.keys(r.result).sort()])).toEqual([
      [7, ["avg_dp_7d", "rate_avg_7d", "sh_7d"]],
      [14, ["avg_dp_14d", "correct_answers", "passed_test_flg", "rate_avg_14d", "sh_14d"]],
    ]);
    expect(promocodes).toEqual([{ matching_id: row.matching_id, promocode: expect.stringMatching(/^MENTOR-[0-9A-F]{8}$/), issued_at: at(14) }]);
  });

  it("tick - a clock jumped past day 14 at once writes both days' results in one tick", async () => {
    const sim = simulator();
    await sim.tables.writeNewDriver(application());
    await sim.tick(at(0));
    expect(await sim.tick(at(15))).toEqual({ paired: 0, results: 2, promocodes: 1 });
  });

  it("promocodeShare - 0 gives none, 1 gives all, a share in between the same ones from every simulator", async () => {
    const none = simulator({ promocodeShare: 0 });
    const rows = Array.from({ length: 40 }, () => application());
    for (const row of rows) await none.tables.writeNewDriver(row);
    await none.tick(at(0));
    expect(await none.tick(at(14))).toMatchObject({ results: 80, promocodes: 0 });
    const half = simulator({ promocodeShare: 0.5 });
    const halfAgain = simulator({ promocodeShare: 0.5 });
    const [first, second] = await Promise.all([half.tick(at(15)), halfAgain.tick(at(15))]);
    const issued = (await half.snapshot()).promocodes.length;
    expect(first.promocodes + second.promocodes).toBe(issued);
    expect(issued).toBeGreaterThan(5);
    expect(issued).toBeLessThan(35);
    half.settings.promocodeShare = 1;
    expect(await half.tick(at(16))).toMatchObject({ promocodes: 40 - issued });
  });

  it("two simulators ticking at once over one schema (two instances) pair each newbie once and write each row once", async () => {
    const [a, b] = [simulator(), simulator()];
    for (let i = 0; i < 20; i++) await a.tables.writeNewDriver(application());
    const ticks = await Promise.all([a.tick(at(0)), b.tick(at(0)), a.tick(at(14)), b.tick(at(14))]);
    const { distribution, results, promocodes } = await a.snapshot();
    expect(distribution).toHaveLength(20);
    expect(results).toHaveLength(40);
    expect(promocodes).toHaveLength(20);
    expect(ticks.reduce((n, t) => n + t.paired, 0)).toBe(20);
  });

  it("start - ticks on the given clock until closed", async () => {
    const sim = simulator();
    let now = at(0).getTime();
    const row = application();
    await sim.tables.writeNewDriver(row);
    sim.start(20, () => now);
    await eventually(async () => (await sim.tables.readDistribution()).length === 1);
    now = at(14).getTime();
    await eventually(async () => (await sim.tables.readPromocodes([row.matching_id])).length === 1);
    await sim.close();
    await sim.tables.writeNewDriver(application());
    await new Promise((r) => setTimeout(r, 100));
    expect((await sim.snapshot()).distribution).toHaveLength(1);
  });
});

describe("CRM on the embedded database", () => {
  it("the port and the simulator run on PGlite (npm start) as on Postgres: apply, pair, results, promocode", async () => {
    const embedded = await openEmbedded();
    try {
      const sim = crmSimulator({ sql: embedded.sql, mentors, promocodeShare: 1 });
      const row = application();
      await sim.tables.writeNewDriver(row);
      await sim.tables.writeNewDriver(row);
      expect(await sim.tick(at(0))).toEqual({ paired: 1, results: 0, promocodes: 0 });
      const [pairing] = await sim.tables.readDistribution();
      await sim.tables.markDistributionImported(row.matching_id, pairing!.connected_dttm);
      expect(await sim.tables.readDistribution()).toEqual([]);
      expect(await sim.tick(at(14))).toEqual({ paired: 0, results: 2, promocodes: 1 });
      expect(await sim.tables.readResults([row.matching_id], 14)).toHaveLength(1);
      expect(await sim.tables.readPromocodes([row.matching_id])).toHaveLength(1);
      await sim.close();
    } finally {
      await embedded.close();
    }
  }, 120_000); // PGlite takes seconds to start on a busy machine
});

describe("CRM failures", () => {
  it("unavailable - every call fails with crm_unavailable and touches nothing; the same calls succeed once it is back", async () => {
    const sim = simulator();
    const row = application();
    sim.faults.unavailable = true;
    const calls = [
      () => sim.tables.writeNewDriver(row),
      () => sim.tables.readDistribution(),
      () => sim.tables.markDistributionImported(row.matching_id, at(0)),
      () => sim.tables.readResults([row.matching_id], 7),
      () => sim.tables.readPromocodes([row.matching_id]),
    ];
    for (const call of calls) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PartnerUnavailableError);
      expect(error).toMatchObject({ code: "crm_unavailable" });
    }
    expect(sim.stats.calls).toBe(5);
    expect((await sim.snapshot()).newDrivers).toEqual([]);
    sim.faults.unavailable = false;
    for (const call of calls) await call();
    expect((await sim.snapshot()).newDrivers).toHaveLength(1);
  });

  it("lostReplies - the write is done but the caller hears crm_unavailable; its retry writes no second row", async () => {
    const sim = simulator();
    const row = application();
    sim.faults.lostReplies = true;
    await expect(sim.tables.writeNewDriver(row)).rejects.toMatchObject({ code: "crm_unavailable" });
    expect((await sim.snapshot()).newDrivers).toHaveLength(1);
    sim.faults.lostReplies = false;
    await sim.tables.writeNewDriver(row);
    expect((await sim.snapshot()).newDrivers).toHaveLength(1);
  });

  it("a CRM database nobody answers at is crm_unavailable", async () => {
    const gone = postgres(`${(await refusingUrl()).replace("http", "postgres")}/test`, { max: 1, connect_timeout: 2, onnotice: () => {} });
    const error = await postgresCrm(gone, schema)
      .readDistribution()
      .catch((e: unknown) => e);
    await gone.end({ timeout: 1 });
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error).toMatchObject({ code: "crm_unavailable" });
  });

  it("the CRM's tables gone for a while (moved away, then back) is crm_unavailable, and the calls work again after", async () => {
    const crm = postgresCrm(sql, schema);
    const row = application();
    await crm.writeNewDriver(row);
    await sql`alter schema ${sql(schema)} rename to ${sql(`${schema}_away`)}`;
    try {
      await expect(crm.readPromocodes([row.matching_id])).rejects.toMatchObject({ code: "crm_unavailable" });
      await expect(crm.writeNewDriver(application())).rejects.toBeInstanceOf(PartnerUnavailableError);
    } finally {
      await sql`alter schema ${sql(`${schema}_away`)} rename to ${sql(schema)}`;
    }
    await crm.writeNewDriver(application());
    expect(await sql`select 1 from ${sql(schema)}.new_drivers`).toHaveLength(2);
  });

  it("data the CRM refuses is crm_rejected (not worth retrying), with the SQLSTATE and no row", async () => {
    const crm = postgresCrm(sql, schema);
    const error = await crm.writeNewDriver(application({ phone_pd_id: "bad\u0000id" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerRejectedError);
    expect(error).toMatchObject({ code: "crm_rejected", body: { sqlstate: expect.stringMatching(/^22/) } });
    expect(await sql`select 1 from ${sql(schema)}.new_drivers`).toHaveLength(0);
  });

  it("a result row off contract (not an object) is crm_protocol, naming the field", async () => {
    const crm = postgresCrm(sql, schema);
    await crm.readDistribution();
    await sql`insert into ${sql(schema)}.results_to_send (matching_id, day, result) values ('m-bad', 7, '[1, 2]'::jsonb)`;
    const error = await crm.readResults(["m-bad"], 7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerProtocolError);
    expect(error).toMatchObject({ code: "crm_protocol", message: expect.stringContaining("0.result") });
  });
});
