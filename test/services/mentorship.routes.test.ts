// The mentorship driver routes: confirm is one matching per person whatever binding and however
// often (also at once from two parks), contacts and read never show a driver another's matching,
// bad input and unknown ids are clear 400/404, and a counterpart source down is a flag, not a 5xx.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TOKENS } from "../support/instance.ts";
import { BASE, MATCH_IMPORT_MS, startMentorshipApp, type MentorshipApp } from "./mentorship.support.ts";

let t: MentorshipApp;
beforeAll(async () => {
  t = await startMentorshipApp();
  t.person("Anna Mentorova", "+79162220002", [["park-m", "m1"]]);
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => t.resetFaults());

async function paired(newbie: { park_id: string; driver_id: string }): Promise<string> {
  const id = (await t.call(newbie, "POST", "/confirm")).body.matching_id as string;
  await t.waitFor(id, "requested");
  await t.crmTick();
  await t.runJob("match-import", MATCH_IMPORT_MS);
  await t.waitFor(id, "initialized");
  return id;
}

const countOf = async (newbieDrivers: string[]) =>
  (await t.app.db.sql`select count(*)::int as n from matchings where newbie_driver_id = any(${newbieDrivers})`)[0]!.n as number;

describe("confirm", () => {
  it("from two park bindings of one driver at once: one matching, both answered with it", async () => {
    const newbie = t.person("Oleg Twice", "+79164440004", [
      ["park-a", "twice-a"],
      ["park-b", "twice-b"],
    ]);
    const [a, b] = await Promise.all([t.call(newbie, "POST", "/confirm"), t.call({ park_id: "park-b", driver_id: "twice-b" }, "POST", "/confirm")]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.matching_id).toBe(b.body.matching_id);
    await t.waitFor(a.body.matching_id, "requested");
    expect(await countOf(["twice-a", "twice-b"])).toBe(1);
    // Retried later, from either binding: the same matching, as it stands now.
    const again = await t.call({ park_id: "park-b", driver_id: "twice-b" }, "POST", "/confirm");
    expect(again.body).toEqual({ matching_id: a.body.matching_id, status: "requested" });
    expect((await t.app.simulators.crm!.snapshot()).newDrivers.filter((r) => r.matching_id === a.body.matching_id)).toHaveLength(1);
  });

  it("a mentor in the programme cannot join as a newbie: 409 already_mentor", async () => {
    const newbie = t.person("Nina New", "+79164440005", [["park-a", "nina"]]);
    await paired(newbie);
    const res = await t.call({ park_id: "park-m", driver_id: "m1" }, "POST", "/confirm");
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("already_mentor");
  });

  it("a profile driver-profiles does not know is 404; driver-profiles down is 503 and creates nothing", async () => {
    const ghost = await t.call({ park_id: "park-a", driver_id: "ghost" }, "POST", "/confirm");
    expect(ghost.status).toBe(404);
    expect(ghost.body).toMatchObject({ code: "not_found" });
    const newbie = t.person("Down Driver", "+79164440006", [["park-a", "down-1"]]);
    t.app.simulators.mentorProfiles!.faults.down = true;
    const down = await t.call(newbie, "POST", "/confirm");
    expect(down.status).toBe(503);
    expect(down.body.code).toBe("driver_profiles_unavailable");
    expect(await countOf(["down-1"])).toBe(0);
  });
});

describe("contacts and read", () => {
  it("a driver outside the programme sees nothing; he can neither read nor guess another's matching", async () => {
    const newbie = t.person("Private Newbie", "+79164440007", [["park-a", "private-n"]]);
    const id = await paired(newbie);
    const stranger = t.person("Curious Stranger", "+79164440008", [["park-a", "stranger"]]);
    expect((await t.call(stranger, "GET", "/contacts")).body).toEqual({ role: null, application: null, items: [], unavailable: [] });
    const read = await t.call(stranger, "POST", "/contacts/read", { matching_id: id });
    expect(read.status).toBe(404);
    // Same park, other driver id in the header: the identity decides, not the body.
    const unread = (await t.call(newbie, "GET", "/contacts")).body.items[0].unread;
    expect(unread).toBe(1);
  });

  it("bad input is 400 naming the field; an unknown matching 404; no identity 400; a wrong role 403", async () => {
    const driver = t.person("Input Tester", "+79164440009", [["park-a", "input"]]);
    const bad = await t.call(driver, "POST", "/contacts/read", { matching_id: "not-a-uuid" });
    expect(bad.status).toBe(400);
    expect(bad.body.details.fields.map((f: { path: string }) => f.path)).toEqual(["body.matching_id"]);
    const extra = await t.call(driver, "POST", "/contacts/read", { matching_id: "5d1b7e2a-0000-4000-8000-000000000000", role: "mentor" });
    expect(extra.status).toBe(400);
    expect(extra.body.details.fields.map((f: { path: string }) => f.path)).toEqual(["body.role"]);
    const unknown = await t.call(driver, "POST", "/contacts/read", { matching_id: "5d1b7e2a-0000-4000-8000-000000000000" });
    expect(unknown.status).toBe(404);
    const anonymous = await t.app.call("GET", `${BASE}/contacts`, { token: TOKENS.driver });
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.code).toBe("missing_identity");
    const fleet = await t.app.call("GET", `${BASE}/contacts`, { token: TOKENS.fleet, park: "park-a" });
    expect(fleet.status).toBe(403);
  });

  it("personal down: contacts answer without the phone and say so; driver-profiles down: the calling profile's matchings without the name", async () => {
    const newbie = t.person("Flag Newbie", "+79164440010", [["park-a", "flag-n"]]);
    await paired(newbie);
    t.app.simulators.mentorPersonal!.faults.down = true;
    const noPhone = await t.call(newbie, "GET", "/contacts");
    expect(noPhone.status).toBe(200);
    expect(noPhone.body.items[0].counterpart).toEqual({
      park_id: "park-m",
      driver_id: "m1",
      name: "Anna Mentorova",
      phone: null,
      whatsapp: null,
      unavailable: ["phone"],
    });
    t.app.simulators.mentorProfiles!.faults.down = true;
    const noProfiles = await t.call(newbie, "GET", "/contacts");
    expect(noProfiles.status).toBe(200);
    expect(noProfiles.body).toMatchObject({ role: "newbie", unavailable: ["bindings"] });
    expect(noProfiles.body.items[0]).toMatchObject({ status: "initialized", unread: 1 });
    expect(noProfiles.body.items[0].counterpart).toEqual({
      park_id: "park-m",
      driver_id: "m1",
      name: null,
      phone: null,
      whatsapp: null,
      unavailable: ["name", "phone"],
    });
    expect(noProfiles.body.items[0].messages[0].text).toContain("your mentor");
  });
});
