// The whole mentorship programme on a moved clock, through HTTP, the matching actors, the CRM
// simulator and the partner simulators: confirm -> requested -> CRM pairs -> initialized (both
// told) -> day 7 in_progress -> day 14 finished -> promocode -> succeed -> archived 21 days on;
// and the failing path.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DAY, MATCH_IMPORT_MS, PROMOCODE_IMPORT_MS, RETENTION_SWEEP_MS, startMentorshipApp, type MentorshipApp } from "./mentorship.support.ts";

let t: MentorshipApp;
beforeAll(async () => {
  t = await startMentorshipApp();
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => t.resetFaults());

/** Confirms, lets the application reach the CRM, has the CRM pair and imports the pairing. */
async function pairedMatching(newbie: { park_id: string; driver_id: string }): Promise<string> {
  const confirm = await t.call(newbie, "POST", "/confirm");
  expect(confirm.status).toBe(200);
  const id = confirm.body.matching_id as string;
  await t.waitFor(id, "requested");
  await t.crmTick();
  await t.runJob("match-import", MATCH_IMPORT_MS);
  await t.waitFor(id, "initialized");
  return id;
}

describe("mentorship programme", () => {
  it("succeeds: applied with city, rented car and phone id; paired; both told; day 7 and 14 reported to the mentor; promocode; archived after 21 days, removed 90 days later", async () => {
    const newbie = t.person(
      "Ivan Novikov",
      "+79161110001",
      [
        ["park-a", "n1"],
        ["park-b", "n1-b"],
      ],
      { rented: true },
    );
    const mentor = t.person("Anna Mentorova", "+79162220002", [["park-m", "m1"]]);
    t.app.simulators.crm!.settings.promocodeShare = 1;

    const confirm = await t.call(newbie, "POST", "/confirm");
    expect(confirm.body).toEqual({ matching_id: expect.any(String), status: "created" });
    const id = confirm.body.matching_id as string;
    await t.waitFor(id, "requested");
    const application = (await t.app.simulators.crm!.snapshot()).newDrivers.filter((r) => r.matching_id === id);
    expect(application).toEqual([
      { matching_id: id, park_id: "park-a", driver_id: "n1", city: "moscow", rented_car: true, phone_pd_id: expect.any(String), created_at: expect.any(Date) },
    ]);
    // The CRM gets the phone's personal id, never the number.
    expect(await t.app.services.mentorship.partners.personal.retrieve("phones", application[0]!.phone_pd_id)).toBe("+79161110001");

    await t.crmTick();
    await t.runJob("match-import", MATCH_IMPORT_MS);
    await t.waitFor(id, "initialized");
    expect(t.delivered(`${id}:matched`).map((n) => [n.park_id, n.driver_id, n.event])).toEqual([
      ["park-a", "n1", "mentorship.mentor_assigned"],
      ["park-m", "m1", "mentorship.newbie_assigned"],
    ]);

    // The newbie asks from his other park: every lookup is over all his bindings.
    const seenByNewbie = await t.call({ park_id: "park-b", driver_id: "n1-b" }, "GET", "/contacts");
    expect(seenByNewbie.status).toBe(200);
    expect(seenByNewbie.body).toMatchObject({ role: "newbie", application: { matching_id: id, status: "initialized" }, unavailable: [] });
    expect(seenByNewbie.body.items).toEqual([
      {
        matching_id: id,
        role: "newbie",
        status: "initialized",
        counterpart: {
          park_id: "park-m",
          driver_id: "m1",
          name: "Anna Mentorova",
          phone: "+79162220002",
          whatsapp: "https://wa.me/79162220002",
          unavailable: [],
        },
        messages: [{ status: "initialized", text: expect.stringContaining("Anna Mentorova"), at: expect.any(String) }],
        unread: 1,
      },
    ]);
    const seenByMentor = await t.call(mentor, "GET", "/contacts");
    expect(seenByMentor.body).toMatchObject({ role: "mentor", application: null });
    expect(seenByMentor.body.items[0]).toMatchObject({ role: "mentor", counterpart: { name: "Ivan Novikov", phone: "+79161110001" }, unread: 1 });

    // The mentor reads: his counter drops, the newbie's does not.
    expect((await t.call(mentor, "POST", "/contacts/read", { matching_id: id })).body).toMatchObject({ matching_id: id, role: "mentor" });
    expect((await t.call(mentor, "GET", "/contacts")).body.items[0].unread).toBe(0);
    expect((await t.call(newbie, "GET", "/contacts")).body.items[0].unread).toBe(1);

    // Day 7: the CRM has the progress; the matching's own timer reads it and tells the mentor.
    await t.crmTick(7 * DAY);
    t.advance(7 * DAY);
    await t.waitFor(id, "in_progress");
    expect(t.delivered(`${id}:day7`).map((n) => [n.driver_id, n.event])).toEqual([["m1", "mentorship.newbie_progress"]]);
    const week = (await t.call(mentor, "GET", "/contacts")).body.items[0];
    expect(week.unread).toBe(1);
    expect(week.messages.at(-1)).toMatchObject({ status: "in_progress", text: expect.stringMatching(/^Ivan Novikov after 7 days: rating \S+/) });

    // Day 14: the result, then the promocode import finds the mentor's promocode.
    await t.crmTick(7 * DAY);
    t.advance(7 * DAY);
    await t.waitFor(id, "finished");
    await t.runJob("promocode-import", PROMOCODE_IMPORT_MS);
    await t.waitFor(id, "succeed");
    const [promo] = t.delivered(`${id}:promocode`);
    expect(promo).toMatchObject({ park_id: "park-m", driver_id: "m1", event: "mentorship.promocode" });
    const [row] = await t.app.db.sql`select mentor_promocode, completed_at from matchings where id = ${id}`;
    expect(row!.mentor_promocode).toEqual(expect.any(String));
    const results = await t.app.db.sql`select rate_avg_7d, rate_avg_14d, passed_test_flg from results where matching_id = ${id}`;
    expect(results[0]).toEqual({ rate_avg_7d: expect.any(String), rate_avg_14d: expect.any(String), passed_test_flg: expect.any(String) });
    const history = await t.app.db.sql`select "from", "to" from status_transitions where matching_id = ${id} order by seq`;
    expect(history.map((h) => `${h.from}>${h.to}`)).toEqual([
      "null>created",
      "created>requested",
      "requested>matched",
      "matched>initialized",
      "initialized>in_progress",
      "in_progress>finished",
      "finished>succeed",
    ]);
    // Each step told its drivers once.
    const keys = t.app.simulators.clientEvents!.delivered().filter((n) => n.idempotency_key.startsWith(`${id}:`));
    expect(keys.map((n) => n.idempotency_key)).toEqual([`${id}:matched`, `${id}:matched`, `${id}:day7`, `${id}:day14`, `${id}:promocode`]);

    // Still live 20 days on; archived (and gone from the live tables) once 21 days have passed.
    t.advance(20 * DAY - RETENTION_SWEEP_MS);
    await t.runJob("retention", RETENTION_SWEEP_MS);
    expect(await t.statusOf(id)).toBe("succeed");
    t.advance(DAY);
    await t.runJob("retention", RETENTION_SWEEP_MS);
    expect(await t.statusOf(id)).toBeUndefined();
    const [archived] = await t.app.db.sql`select status, mentor_promocode from matchings_archive where id = ${id}`;
    expect(archived).toEqual({ status: "succeed", mentor_promocode: row!.mentor_promocode });
    expect((await t.app.db.sql`select count(*)::int as n from status_transitions_archive where matching_id = ${id}`)[0]!.n).toBe(7);
    expect((await t.app.db.sql`select count(*)::int as n from results_archive where matching_id = ${id}`)[0]!.n).toBe(1);
    expect((await t.app.db.sql`select count(*)::int as n from status_transitions where matching_id = ${id}`)[0]!.n).toBe(0);
    expect((await t.call(mentor, "GET", "/contacts")).body.items).toEqual([]);
    // The programme is once per newbie: his ended matching answers a new confirm, from any binding.
    const again = await t.call({ park_id: "park-b", driver_id: "n1-b" }, "POST", "/confirm");
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("programme_completed");

    // The archive keeps it for 90 days, then it is removed with its history and results.
    t.advance(89 * DAY);
    await t.runJob("retention", RETENTION_SWEEP_MS);
    expect((await t.app.db.sql`select count(*)::int as n from matchings_archive where id = ${id}`)[0]!.n).toBe(1);
    t.advance(DAY);
    await t.runJob("retention", RETENTION_SWEEP_MS);
    for (const table of ["matchings_archive", "status_transitions_archive", "results_archive"]) {
      const column = table === "matchings_archive" ? "id" : "matching_id";
      expect((await t.app.db.sql`select count(*)::int as n from ${t.app.db.sql(table)} where ${t.app.db.sql(column)} = ${id}`)[0]!.n).toBe(0);
    }
  });

  it("fails: finished and no promocode for 14 days; the mentor is told nothing more", async () => {
    const newbie = t.person("Petr Slow", "+79163330003", [["park-a", "n2"]]);
    t.app.simulators.crm!.settings.promocodeShare = 0;
    const id = await pairedMatching(newbie);
    await t.crmTick(7 * DAY);
    t.advance(7 * DAY);
    await t.waitFor(id, "in_progress");
    await t.crmTick(7 * DAY);
    t.advance(7 * DAY);
    await t.waitFor(id, "finished");
    // The deadline is a durable timer 14 days after finishing; the promocode import finds nothing meanwhile.
    const [finished] = await t.app.db.sql`select created_at from status_transitions where matching_id = ${id} and "to" = 'finished'`;
    const [deadline] = await t.app.db.sql`select due_at from actor_timers where actor_id = ${id} and timer_key = 'promocode_deadline'`;
    expect(deadline!.due_at.getTime()).toBe(finished!.created_at.getTime() + 14 * DAY);
    t.advance(14 * DAY - PROMOCODE_IMPORT_MS);
    await t.runJob("promocode-import", PROMOCODE_IMPORT_MS);
    await t.waitFor(id, "failed");
    expect(t.delivered(`${id}:promocode`)).toEqual([]);
    const [last] = await t.app.db.sql`select "from", "to" from status_transitions where matching_id = ${id} order by seq desc limit 1`;
    expect(last).toEqual({ from: "finished", to: "failed" });
  });
});
