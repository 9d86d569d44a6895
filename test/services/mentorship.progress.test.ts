// The progress import (`mentorship-job/progress-import`) on a moved clock, through the CRM
// simulator and client-events: more due matchings than one page, results the CRM writes late, and
// the CRM unavailable during a run; each result reaches its matching once, each mentor told once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY, MATCH_IMPORT_MS, mentorshipEnv, PROGRESS_IMPORT_MS, startMentorshipApp, type MentorshipApp } from "./mentorship.support.ts";

let t: MentorshipApp;
beforeAll(async () => {
  t = await startMentorshipApp();
  t.person("Anna Mentorova", "+79162220002", [["park-m", "m1"]]);
});
afterAll(async () => {
  await t?.close();
});

let people = 0;

/** Newbies confirmed, their applications paired by the CRM now and imported: `initialized`, sorted by id. */
async function pairedMatchings(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const newbie = t.person(`Progress Newbie ${++people}`, `+7916444${String(people).padStart(4, "0")}`, [["park-a", `progress-${people}`]]);
    ids.push((await t.call(newbie, "POST", "/confirm")).body.matching_id as string);
  }
  for (const id of ids) await t.waitFor(id, "requested");
  await t.crmTick();
  await t.runJob("match-import", MATCH_IMPORT_MS);
  for (const id of ids) await t.waitFor(id, "initialized");
  return ids.sort();
}

const statuses = (ids: readonly string[]) => Promise.all(ids.map((id) => t.statusOf(id)));
const toldOfDay7 = (ids: readonly string[]) => ids.map((id) => t.delivered(`${id}:day7`).length);
const journaled = async (ids: readonly string[], to: string) =>
  (
    await t.app.db.sql<
      { n: number }[]
    >`select count(*)::int as n from status_transitions where matching_id = any(${t.app.db.sql.array([...ids])}::uuid[]) and "to" = ${to}`
  )[0]!.n;

describe("progress import", () => {
  it("more due matchings than one page, the first page's results not written yet: the rest move in one run, the late ones at the run after the CRM writes them", async () => {
    expect(mentorshipEnv.MENTORSHIP_IMPORT_PAGE_SIZE).toBe("2");
    const ids = await pairedMatchings(5);
    await t.crmTick(7 * DAY);
    // The CRM has not written the results of the two first by id (one whole page) yet.
    const late = ids.slice(0, 2);
    await t.app.db.sql`delete from ${t.app.db.sql(t.app.testDb.schema)}.results_to_send where matching_id = any(${t.app.db.sql.array(late)}::text[])`;
    t.advance(7 * DAY - PROGRESS_IMPORT_MS);
    await t.runJob("progress-import", PROGRESS_IMPORT_MS);
    for (const id of ids.slice(2)) await t.waitFor(id, "in_progress");
    expect(await statuses(late)).toEqual(["initialized", "initialized"]);
    expect(toldOfDay7(ids)).toEqual([0, 0, 1, 1, 1]);

    await t.crmTick();
    await t.runJob("progress-import", PROGRESS_IMPORT_MS);
    for (const id of late) await t.waitFor(id, "in_progress");
    await t.runJob("progress-import", PROGRESS_IMPORT_MS);
    expect(toldOfDay7(ids)).toEqual([1, 1, 1, 1, 1]);
    expect(await journaled(ids, "in_progress")).toBe(5);
    const results = await t.app.db.sql`select rate_avg_7d from results where matching_id = any(${t.app.db.sql.array(ids)}::uuid[])`;
    expect(results.map((r) => r.rate_avg_7d)).toEqual(Array(5).fill(expect.any(String)));
  });

  it("the CRM unavailable during runs: nothing moves; the first run after it is back brings each day-14 result once, each mentor told once", async () => {
    const ids = await pairedMatchings(3);
    await t.crmTick(7 * DAY);
    t.advance(7 * DAY - PROGRESS_IMPORT_MS);
    await t.runJob("progress-import", PROGRESS_IMPORT_MS);
    for (const id of ids) await t.waitFor(id, "in_progress");

    await t.crmTick(7 * DAY);
    t.app.simulators.crm!.faults.unavailable = true;
    try {
      const calls = t.app.simulators.crm!.stats.calls;
      t.advance(7 * DAY - PROGRESS_IMPORT_MS);
      await t.runJob("progress-import", PROGRESS_IMPORT_MS);
      await t.runJob("progress-import", PROGRESS_IMPORT_MS);
      expect(t.app.simulators.crm!.stats.calls).toBeGreaterThan(calls);
      const [job] = await t.app.db.sql<{ snapshot: { context: { last_error: string | null } } }[]>`
        select snapshot from actor_snapshots where actor_type = 'mentorship-job' and actor_id = 'progress-import'`;
      expect(job!.snapshot.context.last_error).toMatch(/crm is unavailable/);
      expect(await statuses(ids)).toEqual(["in_progress", "in_progress", "in_progress"]);
      expect(ids.map((id) => t.delivered(`${id}:day14`).length)).toEqual([0, 0, 0]);
    } finally {
      t.app.simulators.crm!.faults.unavailable = false;
    }

    await t.runJob("progress-import", PROGRESS_IMPORT_MS);
    // The promocode import runs on the same clock move and may take a finished matching on to succeed.
    for (const id of ids) await t.waitFor(id, ["finished", "succeed"]);
    await t.runJob("progress-import", PROGRESS_IMPORT_MS);
    expect(ids.map((id) => t.delivered(`${id}:day14`).length)).toEqual([1, 1, 1]);
    expect(await journaled(ids, "finished")).toBe(3);
    const results = await t.app.db.sql`select rate_avg_7d, rate_avg_14d from results where matching_id = any(${t.app.db.sql.array(ids)}::uuid[])`;
    expect(results).toEqual(Array(3).fill({ rate_avg_7d: expect.any(String), rate_avg_14d: expect.any(String) }));
  });
});
