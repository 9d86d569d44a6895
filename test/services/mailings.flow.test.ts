// Mailings end to end through HTTP, the mailing actors, the parks and feeds simulators.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults } from "../../integrations/simulator.ts";
import { eventually } from "../support/harness.ts";
import { startTestInstance, type TestInstance } from "../support/instance.ts";

const BASE = "/fleet/communications/v1";
let app: TestInstance;

beforeAll(async () => {
  app = await startTestInstance({ MAILING_BATCH_SIZE: "2", PARTNER_TIMEOUT_MS: "300", PARTNER_RETRIES: "0" });
  const drivers = [
    { driverId: "d1", workRule: "day", status: "online" as const },
    { driverId: "d2", workRule: "day", status: "online" as const },
    { driverId: "d3", workRule: "day", status: "working" as const },
    { driverId: "d4", workRule: "night", status: "online" as const },
    { driverId: "d5", workRule: "day", status: "online" as const },
    { driverId: "d6", workRule: "day", status: "online" as const },
    { driverId: "d7", workRule: "day", status: "offline" as const },
  ];
  app.simulators.parks!.addDrivers("park-a", drivers);
  app.simulators.parks!.addDrivers("park-b", drivers);
});
afterAll(async () => {
  await app.close();
});
beforeEach(() => {
  Object.assign(app.simulators.parks!.faults, noFaults());
  Object.assign(app.simulators.feeds!.faults, noFaults());
});

const create = (park: string, body: unknown) => app.call("POST", `${BASE}/mailings`, { park, body });
const get = (park: string, id: string) => app.call("GET", `${BASE}/mailings/${id}`, { park });
const recipientsOf = (mailingId: string) =>
  app.simulators
    .feeds!.deliveries()
    .filter((d) => d.idempotency_key.startsWith(`${mailingId}:`))
    .map((d) => d.recipient)
    .sort();

async function settled(park: string, id: string) {
  return eventually(async () => {
    const res = await get(park, id);
    return ["sent", "cancelled", "failed"].includes(res.body.status) ? res.body : undefined;
  }, 15_000);
}

describe("mailings", () => {
  it("create - filters resolve recipients through parks, batches go to feeds, the mailing is sent", async () => {
    const res = await create("park-a", { message: "Shift bonus tonight", work_rule: "day", status: "online", exclude_contractor_ids: ["d5"] });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: "created", mailing_id: expect.any(String), template_id: expect.any(String) });
    const mailing = await settled("park-a", res.body.mailing_id);
    expect(mailing).toMatchObject({ status: "sent", recipients_count: 3, message: "Shift bonus tonight" });
    expect(mailing.sent_at).not.toBeNull();
    expect(recipientsOf(res.body.mailing_id)).toEqual(["d1", "d2", "d6"]);
  });

  it("create - include_contractor_ids narrows the audience to those drivers", async () => {
    const res = await create("park-a", { message: "Just you two", include_contractor_ids: ["d3", "d4", "ghost"] });
    expect(await settled("park-a", res.body.mailing_id)).toMatchObject({ status: "sent", recipients_count: 2 });
    expect(recipientsOf(res.body.mailing_id)).toEqual(["d3", "d4"]);
  });

  it("create - a template is reused by id and its last_sent_at moves forward", async () => {
    const first = await create("park-a", { message: "Reusable", status: "online" });
    await settled("park-a", first.body.mailing_id);
    const again = await create("park-a", { template_id: first.body.template_id });
    expect(again.status).toBe(202);
    expect(again.body.template_id).toBe(first.body.template_id);
    const second = await settled("park-a", again.body.mailing_id);
    const templates = await app.call("GET", `${BASE}/templates`, { park: "park-a" });
    const template = templates.body.items.find((t: { template_id: string }) => t.template_id === first.body.template_id);
    expect(template).toMatchObject({ message: "Reusable", status: "online", last_sent_at: second.sent_at });
    expect(templates.body.items[0].template_id).toBe(first.body.template_id); // newest last_sent_at first
  });

  it("templates - one never sent has no last_sent_at and lists after the sent ones; pages of one walk the list once", async () => {
    app.simulators.parks!.addDrivers("park-t", [{ driverId: "t1", workRule: "day", status: "online" }]);
    app.simulators.parks!.faults.down = true; // the first two never get sent: cancelled while their audience is unknown
    const neverSent = [];
    for (const message of ["Draft one", "Draft two"]) {
      const res = await create("park-t", { message });
      expect((await app.call("POST", `${BASE}/mailings/${res.body.mailing_id}/cancel`, { park: "park-t" })).status).toBe(200);
      neverSent.push(res.body.template_id);
    }
    app.simulators.parks!.faults.down = false;
    const sent = [];
    for (const message of ["Sent one", "Sent two"]) {
      const res = await create("park-t", { message });
      await settled("park-t", res.body.mailing_id);
      sent.push(res.body.template_id);
    }
    const all = await app.call("GET", `${BASE}/templates`, { park: "park-t" });
    expect(all.body.items.map((t: { template_id: string }) => t.template_id)).toEqual([sent[1], sent[0], neverSent[1], neverSent[0]]);
    expect(all.body.items.map((t: { last_sent_at: string | null }) => t.last_sent_at === null)).toEqual([false, false, true, true]);
    const walked: string[] = [];
    let cursor = "";
    for (let pages = 0; pages < 10; pages++) {
      const res = await app.call("GET", `${BASE}/templates?limit=1${cursor ? `&cursor=${cursor}` : ""}`, { park: "park-t" });
      expect(res.status).toBe(200);
      walked.push(...res.body.items.map((t: { template_id: string }) => t.template_id));
      if (!res.body.has_more) break;
      cursor = res.body.cursor;
    }
    expect(walked).toEqual(all.body.items.map((t: { template_id: string }) => t.template_id));
  });

  it("delivery - feeds down then up: every recipient gets the message exactly once", async () => {
    const feeds = app.simulators.feeds!;
    feeds.faults.down = true;
    const res = await create("park-a", { message: "Outage-proof", work_rule: "day" });
    await eventually(() => feeds.stats.requests > 0 && get("park-a", res.body.mailing_id).then((r) => r.body.status === "sending"));
    feeds.faults.down = false;
    expect(await settled("park-a", res.body.mailing_id)).toMatchObject({ status: "sent", recipients_count: 6 });
    expect(recipientsOf(res.body.mailing_id)).toEqual(["d1", "d2", "d3", "d5", "d6", "d7"]);
  });

  it("delivery - a batch whose answer was lost is retried and not delivered twice", async () => {
    const feeds = app.simulators.feeds!;
    feeds.faults.lostReplyRate = 1; // feeds delivers every batch, but its answers never arrive
    const res = await create("park-a", { message: "Lost answers", include_contractor_ids: ["d1", "d2", "d3"] });
    await eventually(() => recipientsOf(res.body.mailing_id).length >= 2 && feeds.stats.requests >= 2);
    feeds.faults.lostReplyRate = 0;
    expect(await settled("park-a", res.body.mailing_id)).toMatchObject({ status: "sent", recipients_count: 3 });
    const delivered = recipientsOf(res.body.mailing_id);
    expect(delivered).toEqual(["d1", "d2", "d3"]);
  });

  it("cancel - before it is sent: cancelled, and nothing reaches feeds", async () => {
    app.simulators.parks!.faults.down = true; // the audience cannot be resolved yet
    const res = await create("park-a", { message: "Never mind" });
    const cancel = await app.call("POST", `${BASE}/mailings/${res.body.mailing_id}/cancel`, { park: "park-a" });
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe("cancelled");
    app.simulators.parks!.faults.down = false;
    await new Promise((r) => setTimeout(r, 300));
    expect((await get("park-a", res.body.mailing_id)).body.status).toBe("cancelled");
    expect(recipientsOf(res.body.mailing_id)).toEqual([]);
  });

  it("cancel - after it was sent is 409", async () => {
    const res = await create("park-a", { message: "Too late", include_contractor_ids: ["d1"] });
    await settled("park-a", res.body.mailing_id);
    const cancel = await app.call("POST", `${BASE}/mailings/${res.body.mailing_id}/cancel`, { park: "park-a" });
    expect(cancel.status).toBe(409);
    expect(cancel.body).toMatchObject({ code: "mailing_not_cancellable", details: { status: "sent" } });
  });

  it("retries - parks failing past every attempt leaves the mailing failed", async () => {
    app.simulators.parks!.faults.down = true;
    const res = await create("park-a", { message: "Doomed" });
    expect(await settled("park-a", res.body.mailing_id)).toMatchObject({ status: "failed", recipients_count: null });
  });

  it("retries - a partner refusing the request itself (4xx) fails the step at once, without the retries a 5xx gets", async () => {
    const feeds = app.simulators.feeds!;
    feeds.faults.unauthorized = true; // 401: retrying the same request cannot help
    const before = feeds.stats.requests;
    const res = await create("park-a", { message: "Refused" });
    expect(await settled("park-a", res.body.mailing_id)).toMatchObject({ status: "failed" });
    expect(feeds.stats.requests - before).toBe(1);
  });

  it("isolation - a park never sees another park's mailings or templates", async () => {
    const mine = await create("park-a", { message: "Private to A" });
    await settled("park-a", mine.body.mailing_id);
    expect((await get("park-b", mine.body.mailing_id)).status).toBe(404);
    expect((await app.call("POST", `${BASE}/mailings/${mine.body.mailing_id}/cancel`, { park: "park-b" })).status).toBe(404);
    expect((await create("park-b", { template_id: mine.body.template_id })).status).toBe(404);
    const list = await app.call("GET", `${BASE}/mailings?limit=200`, { park: "park-b" });
    expect(list.body.items.map((m: { mailing_id: string }) => m.mailing_id)).not.toContain(mine.body.mailing_id);
    const templates = await app.call("GET", `${BASE}/templates?limit=200`, { park: "park-b" });
    expect(templates.body.items.map((t: { template_id: string }) => t.template_id)).not.toContain(mine.body.template_id);
  });

  it("history - pages newest first with a cursor and no overlap", async () => {
    for (const n of [1, 2, 3]) await create("park-c", { message: `page ${n}` });
    const first = await app.call("GET", `${BASE}/mailings?limit=2`, { park: "park-c" });
    expect(first.body.items.map((m: { message: string }) => m.message)).toEqual(["page 3", "page 2"]);
    expect(first.body.has_more).toBe(true);
    const second = await app.call("GET", `${BASE}/mailings?limit=2&cursor=${first.body.cursor}`, { park: "park-c" });
    expect(second.body.items.map((m: { message: string }) => m.message)).toEqual(["page 1"]);
    expect(second.body.has_more).toBe(false);
    expect((await app.call("GET", `${BASE}/mailings?cursor=garbage`, { park: "park-c" })).status).toBe(400);
    // A last page that is exactly full says so: no cursor to an empty page.
    const exact = await app.call("GET", `${BASE}/mailings?limit=3`, { park: "park-c" });
    expect(exact.body.items).toHaveLength(3);
    expect(exact.body).toMatchObject({ has_more: false, cursor: null });
    const templates = await app.call("GET", `${BASE}/templates?limit=3`, { park: "park-c" });
    expect(templates.body).toMatchObject({ has_more: false, cursor: null });
  });

  it("a template's mailings - its own, newest first, paged; another park's template is 404", async () => {
    const first = await create("park-d", { message: "weekly" });
    const other = await create("park-d", { message: "another" });
    const again = [await create("park-d", { template_id: first.body.template_id }), await create("park-d", { template_id: first.body.template_id })];
    const page1 = await app.call("GET", `${BASE}/templates/${first.body.template_id}/mailings?limit=2`, { park: "park-d" });
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((m: { mailing_id: string }) => m.mailing_id)).toEqual([again[1]!.body.mailing_id, again[0]!.body.mailing_id]);
    const page2 = await app.call("GET", `${BASE}/templates/${first.body.template_id}/mailings?limit=2&cursor=${page1.body.cursor}`, { park: "park-d" });
    expect(page2.body).toMatchObject({ items: [{ mailing_id: first.body.mailing_id }], has_more: false });
    expect(page2.body.items.map((m: { mailing_id: string }) => m.mailing_id)).not.toContain(other.body.mailing_id);
    expect((await app.call("GET", `${BASE}/templates/${first.body.template_id}/mailings`, { park: "park-b" })).status).toBe(404);
  });

  it("bad input - an empty include_contractor_ids is 400 (it would mean nobody, never the whole park)", async () => {
    const res = await create("park-a", { message: "to nobody?", include_contractor_ids: [] });
    expect(res.status).toBe(400);
    expect(res.body.details.fields[0].path).toBe("body.include_contractor_ids");
  });

  it("bad input - neither template_id nor message, or both, is 400 naming the field", async () => {
    const neither = await create("park-a", {});
    expect(neither.status).toBe(400);
    expect(neither.body.details.fields[0].path).toBe("body.message");
    const both = await create("park-a", { template_id: "t", message: "m" });
    expect(both.status).toBe(400);
    expect(both.body.details.fields[0].path).toBe("body.template_id");
    expect((await get("park-a", "no-such-mailing")).status).toBe(404);
  });
});
