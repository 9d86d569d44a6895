// Mentorship under faults: a source down during the application is retried (never a half row,
// never two); the CRM unavailable holds the imports, which resume after; an instance killed
// between steps leaves the programme to another instance, which does no step twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { MATCH_IMPORT_MS, RETRY_BASE_MS, startMentorshipApp, type MentorshipApp } from "./mentorship.support.ts";

let t: MentorshipApp;
beforeAll(async () => {
  t = await startMentorshipApp();
  t.person("Anna Mentorova", "+79162220002", [["park-m", "m1"]]);
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => t.resetFaults());

const applicationsOf = async (app: MentorshipApp, id: string) => (await app.app.simulators.crm!.snapshot()).newDrivers.filter((r) => r.matching_id === id);
const attemptsOf = async (app: MentorshipApp, id: string) =>
  (
    (await app.app.db.sql`select snapshot from actor_snapshots where actor_type = 'matching' and actor_id = ${id}`)[0]?.snapshot as {
      context: { attempt: number };
    }
  )?.context.attempt ?? 0;

describe("application", () => {
  for (const source of ["fleetRent", "mentorTrackstory"] as const) {
    it(`${source} down: nothing reaches the CRM, the application is retried on its timer, then written once`, async () => {
      const newbie = t.person(`Retry ${source}`, `+7916555${String(source.length).padStart(4, "0")}`, [["park-a", `retry-${source}`]], { rented: true });
      t.app.simulators[source]!.faults.down = true;
      const id = (await t.call(newbie, "POST", "/confirm")).body.matching_id as string;
      await eventually(async () => (await attemptsOf(t, id)) >= 1);
      t.advance(RETRY_BASE_MS);
      await eventually(async () => (await attemptsOf(t, id)) >= 2);
      expect(await t.statusOf(id)).toBe("created");
      expect(await applicationsOf(t, id)).toEqual([]);
      t.app.simulators[source]!.faults.down = false;
      t.advance(60_000);
      await t.waitFor(id, "requested");
      expect(await applicationsOf(t, id)).toEqual([expect.objectContaining({ city: "moscow", rented_car: true })]);
    });
  }

  it("driver-profiles has no phone for the newbie yet: nothing reaches the CRM until it has one", async () => {
    const newbie = t.person("No Phone Yet", "+79165550098", [["park-a", "no-phone"]]);
    const profile = { park_id: "park-a", driver_id: "no-phone", driver_license_pd_id: "pd-licence-no-phone", name: "No Phone Yet" };
    t.app.simulators.mentorProfiles!.upsert([{ ...profile, phone_pd_id: null }]);
    const id = (await t.call(newbie, "POST", "/confirm")).body.matching_id as string;
    await eventually(async () => (await attemptsOf(t, id)) >= 1);
    expect(await applicationsOf(t, id)).toEqual([]);
    const phone = t.app.simulators.mentorPersonal!.preload("phones", "+79165550098");
    t.app.simulators.mentorProfiles!.upsert([{ ...profile, phone_pd_id: phone }]);
    t.advance(60_000);
    await t.waitFor(id, "requested");
    expect(await applicationsOf(t, id)).toEqual([expect.objectContaining({ phone_pd_id: phone })]);
  });

  it("the CRM write's answer lost: the retry finds the row written and adds no second one", async () => {
    const newbie = t.person("Lost Reply", "+79165550099", [["park-a", "lost-reply"]]);
    t.app.simulators.crm!.faults.lostReplies = true;
    const id = (await t.call(newbie, "POST", "/confirm")).body.matching_id as string;
    await eventually(async () => (await applicationsOf(t, id)).length === 1 && (await attemptsOf(t, id)) >= 1);
    t.app.simulators.crm!.faults.lostReplies = false;
    t.advance(60_000);
    await t.waitFor(id, "requested");
    expect(await applicationsOf(t, id)).toHaveLength(1);
  });
});

describe("matching import", () => {
  it("a pairing that arrives while the matching still waits for the CRM's answer to its application is not lost", async () => {
    const newbie = t.person("Early Pairing", "+79165550101", [["park-a", "early"]]);
    // The application reaches the CRM, its answer is lost, and the retry then fails at fleet-rent.
    t.app.simulators.crm!.faults.lostReplies = true;
    const id = (await t.call(newbie, "POST", "/confirm")).body.matching_id as string;
    await eventually(async () => (await applicationsOf(t, id)).length === 1 && (await attemptsOf(t, id)) >= 1);
    t.app.simulators.crm!.faults.lostReplies = false;
    t.app.simulators.fleetRent!.faults.down = true;
    await t.crmTick();
    const attempts = await attemptsOf(t, id);
    await t.runJob("match-import", MATCH_IMPORT_MS);
    await eventually(async () => (await attemptsOf(t, id)) > attempts);
    expect(await t.statusOf(id)).toBe("created");
    // The application goes through; the next import still finds the pairing new.
    t.app.simulators.fleetRent!.faults.down = false;
    t.advance(60_000);
    await t.waitFor(id, "requested");
    await t.runJob("match-import", MATCH_IMPORT_MS);
    await t.waitFor(id, "initialized");
  });
});

describe("CRM unavailable", () => {
  it("the matching import fails while it is down and picks the pairing up once it is back", async () => {
    const newbie = t.person("Crm Waiter", "+79165550100", [["park-a", "crm-wait"]]);
    const id = (await t.call(newbie, "POST", "/confirm")).body.matching_id as string;
    await t.waitFor(id, "requested");
    await t.crmTick();
    t.app.simulators.crm!.faults.unavailable = true;
    const calls = t.app.simulators.crm!.stats.calls;
    await t.runJob("match-import", MATCH_IMPORT_MS);
    await t.runJob("match-import", MATCH_IMPORT_MS);
    expect(t.app.simulators.crm!.stats.calls).toBeGreaterThanOrEqual(calls + 2);
    expect(await t.statusOf(id)).toBe("requested");
    t.app.simulators.crm!.faults.unavailable = false;
    await t.runJob("match-import", MATCH_IMPORT_MS);
    await t.waitFor(id, "initialized");
    expect(t.delivered(`${id}:matched`)).toHaveLength(2);
  });
});

describe("an instance killed between steps", () => {
  it("another instance on the same database carries the programme on: one CRM row, each notification once, each transition once", async () => {
    const newbie = t.person("Killed Midway", "+79165550200", [["park-a", "killed"]]);
    // The CRM keeps the application but its answer is lost, and the instance dies before retrying.
    t.app.simulators.crm!.faults.lostReplies = true;
    const id = (await t.call(newbie, "POST", "/confirm")).body.matching_id as string;
    await eventually(async () => (await applicationsOf(t, id)).length === 1 && (await attemptsOf(t, id)) >= 1);
    t.app.system.crash();

    const sims = t.app.simulators;
    const second = await startMentorshipApp(
      {
        DRIVER_PROFILES_URL: sims.mentorProfiles!.url,
        PERSONAL_URL: sims.mentorPersonal!.url,
        TRACKSTORY_URL: sims.mentorTrackstory!.url,
        FLEET_RENT_URL: sims.fleetRent!.url,
        CLIENT_EVENTS_URL: sims.clientEvents!.url,
        // The first instance's CRM simulator keeps playing the CRM over the shared tables.
        CRM_SIMULATOR: "false",
      },
      { clock: t.clock, db: t.app.testDb },
    );
    try {
      sims.crm!.faults.lostReplies = false;
      t.advance(60_000);
      await t.waitFor(id, "requested");
      expect(await applicationsOf(t, id)).toHaveLength(1);

      // Killed again while telling both drivers: client-events delivered, its answer lost.
      await t.crmTick();
      sims.clientEvents!.faults.lostReplyRate = 1;
      await t.runJob("match-import", MATCH_IMPORT_MS);
      await eventually(() => t.delivered(`${id}:matched`).length === 2);
      await t.waitFor(id, "matched");
      second.app.system.crash();
      const third = await startMentorshipApp(
        {
          DRIVER_PROFILES_URL: sims.mentorProfiles!.url,
          PERSONAL_URL: sims.mentorPersonal!.url,
          TRACKSTORY_URL: sims.mentorTrackstory!.url,
          FLEET_RENT_URL: sims.fleetRent!.url,
          CLIENT_EVENTS_URL: sims.clientEvents!.url,
          CRM_SIMULATOR: "false",
        },
        { clock: t.clock, db: t.app.testDb },
      );
      try {
        sims.clientEvents!.faults.lostReplyRate = 0;
        t.advance(60_000);
        await t.waitFor(id, "initialized");
        expect(t.delivered(`${id}:matched`)).toHaveLength(2);
        const history = await t.app.db.sql`select "to" from status_transitions where matching_id = ${id} order by seq`;
        expect(history.map((h) => h.to)).toEqual(["created", "requested", "matched", "initialized"]);
        expect((await third.call(newbie, "GET", "/contacts")).body.items[0]).toMatchObject({ status: "initialized", counterpart: { name: "Anna Mentorova" } });
      } finally {
        await third.close();
      }
    } finally {
      await second.close();
    }
  });
});
