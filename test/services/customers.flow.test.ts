// Park customers end to end through HTTP, Postgres and the personal simulator.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Result, Schema } from "effect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults } from "../../integrations/index.ts";
import { subjectToken } from "../../actors/publicEvent.ts";
import { CustomerPublicEvent, customerSubjectPrefix } from "../../services/customers/publicEvents.ts";
import { eventually } from "../support/harness.ts";
import { BASE, counts, startCustomerApp, TOKENS, type CustomerApp } from "./customers.support.ts";

let app: CustomerApp;
beforeAll(async () => {
  app = await startCustomerApp({ limits: { locations: 3, routes: 2 } });
});
afterAll(async () => {
  await app.close();
});
beforeEach(() => {
  Object.assign(app.personal.faults, noFaults());
});

const find = (park: string, phone: string) => app.call("POST", `${BASE}/customers/find`, { park, body: { phone } });
const upsert = (park: string, body: unknown) => app.call("PUT", `${BASE}/customers`, { park, body });
const customer = (park: string, id: string, method = "GET", body?: unknown) => app.call(method, `${BASE}/customers/${id}`, { park, body });
const home = { label: "home", address: "Tverskaya 1", lat: 55.757, lon: 37.613 };
const work = { address: "Leningradsky 39", lat: 55.79, lon: 37.54 };
const commute = {
  label: "to work",
  points: [home, work].map(({ address, lat, lon }) => ({ address, lat, lon })),
  schedule: { days: [1, 2, 3, 4, 5], time: "08:30" },
};

/** Row counts once the events of earlier writes are published and cleared from the outbox. */
const settledCounts = () => eventually(async () => ((await counts(app.db)).outbox === 0 ? counts(app.db) : undefined));
const eventsOf = (customerId: string) => app.events.filter((e) => e.payload.id === customerId).map((e) => e.payload);

describe("customers", () => {
  it("dispatcher's flow - find 404, upsert after an order, find with the name, edit, locations and a route, delete: all gone", async () => {
    expect(await find("park-a", "+7 916 100-00-01")).toMatchObject({ status: 404, body: { code: "not_found" } });

    const created = await upsert("park-a", {
      phone: "8 (916) 100-00-01",
      name: "Анна Петрова",
      sms_enabled: true,
      order_options: { tariff_class: "comfort", requirements: ["child_chair"] },
    });
    expect(created.status).toBe(201);
    const id = created.body.customer_id;
    expect(created.body).toMatchObject({ phone: "+79161000001", name: "Анна Петрова", sms_enabled: true, locations: [], routes: [] });

    const found = await find("park-a", "+79161000001");
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({
      customer_id: id,
      name: "Анна Петрова",
      sms_enabled: true,
      order_options: { tariff_class: "comfort", requirements: ["child_chair"] },
    });

    const again = await upsert("park-a", { phone: "9161000001", sms_enabled: false });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ customer_id: id, name: "Анна Петрова", sms_enabled: false, order_options: { tariff_class: "comfort" } });

    const edited = await customer("park-a", id, "PATCH", { name: "Анна", order_options: { payment_method: "card" } });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ name: "Анна", sms_enabled: false, order_options: { payment_method: "card" } });
    expect(edited.body.order_options.tariff_class).toBeUndefined();

    const l1 = await app.call("POST", `${BASE}/customers/${id}/locations`, { park: "park-a", body: home });
    const l2 = await app.call("POST", `${BASE}/customers/${id}/locations`, { park: "park-a", body: work });
    const r1 = await app.call("POST", `${BASE}/customers/${id}/routes`, { park: "park-a", body: commute });
    expect([l1.status, l2.status, r1.status]).toEqual([201, 201, 201]);
    expect(l1.body).toMatchObject({ ...home, location_id: expect.any(String) });
    expect(r1.body).toMatchObject({ ...commute, route_id: expect.any(String) });

    const viewed = await customer("park-a", id);
    expect(viewed.body).toMatchObject({ phone: "+79161000001", name: "Анна", locations: [home, { ...work, label: null }], routes: [commute] });

    expect((await app.call("DELETE", `${BASE}/customers/${id}/locations/${l1.body.location_id}`, { park: "park-a" })).status).toBe(204);
    expect((await customer("park-a", id)).body.locations.map((l: { location_id: string }) => l.location_id)).toEqual([l2.body.location_id]);

    expect((await customer("park-a", id, "DELETE")).status).toBe(204);
    expect((await find("park-a", "+79161000001")).status).toBe(404);
    expect((await customer("park-a", id)).status).toBe(404);
    const [left] = await app.db.sql<{ locations: string; routes: string }[]>`select
      (select count(*) from customer_locations where customer_id = ${id}) as locations,
      (select count(*) from customer_routes where customer_id = ${id}) as routes`;
    expect(left).toEqual({ locations: "0", routes: "0" });

    const events = await eventually(() => (eventsOf(id).some((e) => e.state === "deleted") ? eventsOf(id) : undefined));
    expect(events.map((e) => [e.state, e.seq, e.changes ?? e.reason])).toEqual([
      ["created", 1, undefined],
      ["updated", 2, ["sms_enabled"]],
      ["updated", 3, ["name", "order_options"]],
      ["updated", 4, ["locations"]],
      ["updated", 5, ["locations"]],
      ["updated", 6, ["routes"]],
      ["updated", 7, ["locations"]],
      ["deleted", 8, "dispatcher"],
    ]);
  });

  it("events - published on fleet.events.customer.<customer_id> after commit, ids only, matching the documented schema", async () => {
    const created = await upsert("park-e", { phone: "+7 916 200-00-01", name: "Борис" });
    const id = created.body.customer_id;
    await upsert("park-e", { phone: "+79162000001", name: "Борис" }); // nothing changed: no event
    await customer("park-e", id, "DELETE");
    const events = await eventually(() =>
      app.events.filter((e) => e.payload.id === id).length === 2 ? app.events.filter((e) => e.payload.id === id) : undefined,
    );
    for (const e of events) {
      expect(e.subject).toBe(`fleet.events.customer.${id}`);
      expect(Result.isSuccess(Schema.decodeUnknownResult(CustomerPublicEvent, { onExcessProperty: "error" })(e.payload))).toBe(true);
      expect(JSON.stringify(e.payload)).not.toMatch(/9162000001|Борис/);
    }
    await eventually(async () => (await counts(app.db)).outbox === 0);
  });

  it("events - the documented JSON Schema is the one generated from the schema the payloads are checked with", () => {
    const doc = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../docs/events/customer.schema.json"), "utf8"));
    expect(doc).toEqual(Schema.toJsonSchemaDocument(CustomerPublicEvent));
  });

  it("events - a cluster's own prefix is used, and a customer id (a UUID) is one subject token as it is, so storage appends it unescaped", () => {
    const id = "6f1c0e7a-3b7e-4b8e-9c1d-2a3b4c5d6e7f";
    expect(customerSubjectPrefix("c7.events")).toBe("c7.events.customer.");
    expect(subjectToken(id)).toBe(id);
    expect(subjectToken("a.b c*>%")).toBe("a%2Eb%20c%2A%3E%25");
  });

  it("events - upserts of one new phone and edits of it at once: one customer, and each version it went through announced once, in seq order without gaps", async () => {
    const phone = "+7 916 200-00-03";
    const upserts = await Promise.all(Array.from({ length: 12 }, (_, i) => upsert("park-e", { phone, sms_enabled: i % 2 === 0 })));
    expect(upserts.filter((r) => r.status === 201)).toHaveLength(1);
    expect(upserts.filter((r) => r.status === 200)).toHaveLength(11);
    const id = upserts[0]!.body.customer_id;
    expect(new Set(upserts.map((r) => r.body.customer_id))).toEqual(new Set([id]));
    const edits = await Promise.all(Array.from({ length: 6 }, (_, i) => customer("park-e", id, "PATCH", { sms_enabled: i % 2 === 1 })));
    expect(edits.map((r) => r.status)).toEqual(Array(6).fill(200));

    const [row] = await app.db.sql<{ version: string }[]>`select version from customers where customer_id = ${id}`;
    const version = Number(row!.version);
    const events = await eventually(() => (eventsOf(id).length >= version ? eventsOf(id) : undefined));
    expect(events.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: version }, (_, i) => i + 1));
    expect(events.find((e) => e.seq === 1)).toMatchObject({ state: "created" });
    for (const e of events.filter((e) => e.seq > 1)) expect(e).toMatchObject({ state: "updated", changes: ["sms_enabled"] });
  });

  it("events - a publish that fails stays in the outbox for the runtime's relay, and the write still succeeds", async () => {
    const publish = app.publish;
    app.publish = async () => {
      throw new Error("nats is away");
    };
    try {
      const created = await upsert("park-e", { phone: "+7 916 200-00-02" });
      expect(created.status).toBe(201);
      const [row] = await eventually(async () => {
        const rows = await app.db.sql<
          { target: string; payload: any }[]
        >`select target, payload from actor_outbox where payload->>'id' = ${created.body.customer_id}`;
        return rows.length && app.logs.some((l) => l.includes("outbox delivery failed")) ? rows : undefined;
      });
      expect(row).toMatchObject({ target: `fleet.events.customer.${created.body.customer_id}`, payload: { state: "created", id: created.body.customer_id } });
    } finally {
      app.publish = publish;
      await app.db.sql`delete from actor_outbox`;
    }
  });

  it("isolation - another park's customer, location and route ids answer 404 exactly like unknown ids, and change nothing", async () => {
    const a = await upsert("park-a", { phone: "+79163000001", name: "Вера", sms_enabled: true });
    const id = a.body.customer_id;
    const loc = await app.call("POST", `${BASE}/customers/${id}/locations`, { park: "park-a", body: home });
    const rt = await app.call("POST", `${BASE}/customers/${id}/routes`, { park: "park-a", body: commute });
    const unknown = "00000000-0000-4000-8000-000000000000";
    for (const target of [id, unknown]) {
      const answers = [
        await customer("park-b", target),
        await customer("park-b", target, "PATCH", { sms_enabled: false }),
        await customer("park-b", target, "DELETE"),
        await app.call("POST", `${BASE}/customers/${target}/locations`, { park: "park-b", body: work }),
        await app.call("POST", `${BASE}/customers/${target}/routes`, { park: "park-b", body: commute }),
      ];
      expect(answers.map((r) => [r.status, r.body])).toEqual(Array(5).fill([404, { code: "not_found", message: "customer not found" }]));
      const removals = [
        await app.call("DELETE", `${BASE}/customers/${target}/locations/${loc.body.location_id}`, { park: "park-b" }),
        await app.call("DELETE", `${BASE}/customers/${target}/routes/${rt.body.route_id}`, { park: "park-b" }),
      ];
      expect(removals.map((r) => r.status)).toEqual([404, 404]);
    }
    // The same phone in park b is park b's own, separate customer.
    expect((await find("park-b", "+79163000001")).status).toBe(404);
    const b = await upsert("park-b", { phone: "+79163000001", sms_enabled: false });
    expect(b.status).toBe(201);
    expect(b.body.customer_id).not.toBe(id);
    expect(b.body.name).toBeNull();
    const still = await customer("park-a", id);
    expect(still.body).toMatchObject({ name: "Вера", sms_enabled: true, locations: [home], routes: [commute] });
  });

  it("limits - locations and routes past the per-customer limit are 409 and not stored", async () => {
    const id = (await upsert("park-l", { phone: "+79164000001" })).body.customer_id;
    for (let i = 0; i < 3; i++) expect((await app.call("POST", `${BASE}/customers/${id}/locations`, { park: "park-l", body: home })).status).toBe(201);
    const over = await app.call("POST", `${BASE}/customers/${id}/locations`, { park: "park-l", body: home });
    expect(over).toMatchObject({ status: 409, body: { code: "too_many_locations", details: { limit: 3 } } });
    for (let i = 0; i < 2; i++) expect((await app.call("POST", `${BASE}/customers/${id}/routes`, { park: "park-l", body: commute })).status).toBe(201);
    expect((await app.call("POST", `${BASE}/customers/${id}/routes`, { park: "park-l", body: commute })).body.code).toBe("too_many_routes");
    expect((await customer("park-l", id)).body).toMatchObject({ locations: { length: 3 }, routes: { length: 2 } });
  });

  it("idempotency - a repeated location POST with the same key returns the first location and stores one", async () => {
    const id = (await upsert("park-i", { phone: "+79165000001" })).body.customer_id;
    const headers = { "idempotency-key": "add-home-once" };
    const first = await app.call("POST", `${BASE}/customers/${id}/locations`, { park: "park-i", body: home, headers });
    const repeat = await app.call("POST", `${BASE}/customers/${id}/locations`, { park: "park-i", body: home, headers });
    expect(repeat).toEqual(first);
    expect((await customer("park-i", id)).body.locations).toHaveLength(1);
  });

  it("takeout - one person's records in several parks are erased, status reports done, other people untouched", async () => {
    const person = "+79166000001";
    const other = "+79166000002";
    for (const park of ["park-t1", "park-t2", "park-t3"]) {
      const id = (await upsert(park, { phone: person, name: "Галина" })).body.customer_id;
      await app.call("POST", `${BASE}/customers/${id}/locations`, { park, body: home });
      await app.call("POST", `${BASE}/customers/${id}/routes`, { park, body: commute });
    }
    const otherId = (await upsert("park-t1", { phone: other, name: "Дмитрий" })).body.customer_id;
    await app.call("POST", `${BASE}/customers/${otherId}/locations`, { park: "park-t1", body: work });
    const pd = app.personal.preload("phones", person);
    const status = (phone_pd_id: string) => app.call("GET", `${BASE}/takeout/v1/status?phone_pd_id=${phone_pd_id}`, { token: TOKENS.internal });

    expect((await status(pd)).body).toMatchObject({ phone_pd_id: pd, status: "not_requested", has_data: true });
    expect((await app.call("POST", `${BASE}/takeout/v1/delete`, { park: "park-t1", body: { phone_pd_ids: [pd] } })).status).toBe(403);

    const erased = await app.call("POST", `${BASE}/takeout/v1/delete`, { token: TOKENS.internal, body: { phone_pd_ids: [pd, "never-seen"] } });
    expect(erased.status).toBe(200);
    expect(erased.body.items).toEqual([
      { phone_pd_id: pd, status: "done", customers_deleted: 3 },
      { phone_pd_id: "never-seen", status: "done", customers_deleted: 0 },
    ]);
    for (const park of ["park-t1", "park-t2", "park-t3"]) expect((await find(park, person)).status).toBe(404);
    const [orphans] = await app.db.sql<{ n: string }[]>`select
      (select count(*) from customer_locations l where not exists (select 1 from customers c where c.customer_id = l.customer_id)) +
      (select count(*) from customer_routes r where not exists (select 1 from customers c where c.customer_id = r.customer_id)) as n`;
    expect(orphans!.n).toBe("0");
    expect((await status(pd)).body).toMatchObject({ status: "done", customers_deleted: 3, has_data: false, completed_at: expect.any(String) });
    expect((await find("park-t1", other)).body).toMatchObject({ customer_id: otherId, name: "Дмитрий", locations: [{ ...work, label: null }] });
    expect((await status(app.personal.preload("phones", other))).body).toMatchObject({ status: "not_requested", has_data: true });

    await eventually(() => app.events.filter((e) => e.payload.reason === "takeout").length === 3);
    const takeouts = app.events.filter((e) => e.payload.reason === "takeout");
    expect(new Set(takeouts.map((e) => e.payload.park_id))).toEqual(new Set(["park-t1", "park-t2", "park-t3"]));
    for (const e of takeouts) expect(e.subject).toBe(`fleet.events.customer.${e.payload.id}`);
    const repeat = await app.call("POST", `${BASE}/takeout/v1/delete`, { token: TOKENS.internal, body: { phone_pd_ids: [pd] } });
    expect(repeat.body.items).toEqual([{ phone_pd_id: pd, status: "done", customers_deleted: 0 }]);
  });

  it("personal down - find, upsert, edit and view answer 503 personal_unavailable and nothing is written", async () => {
    const id = (await upsert("park-p", { phone: "+79167000001", name: "Елена" })).body.customer_id;
    const before = await settledCounts();
    const rowBefore = await app.db.sql`select * from customers where customer_id = ${id}`;
    app.personal.faults.down = true;
    const answers = [
      await upsert("park-p", { phone: "+79167000002", name: "Жанна" }),
      await upsert("park-p", { phone: "+79167000001", sms_enabled: true }),
      await find("park-p", "+79167000001"),
      await customer("park-p", id, "PATCH", { name: "Елена Викторовна" }),
      await customer("park-p", id),
    ];
    for (const res of answers) expect(res).toMatchObject({ status: 503, body: { code: "personal_unavailable" } });
    expect(await counts(app.db)).toEqual(before);
    expect(await app.db.sql`select * from customers where customer_id = ${id}`).toEqual(rowBefore);
    app.personal.faults.down = false;
    expect((await find("park-p", "+79167000001")).body).toMatchObject({ name: "Елена", sms_enabled: false });
  });

  it("bad input - malformed phones, wrong types and oversized lists are 400 naming the field", async () => {
    for (const phone of ["12345", "+7 916 123", "phone", "8 916 123 45 67 89", "+0 123 456 789", "", 79161234567]) {
      const res = await find("park-v", phone as string);
      expect(res.status, String(phone)).toBe(400);
      expect(res.body.details.fields.map((f: { path: string }) => f.path)).toEqual(["body.phone"]);
    }
    const wrong = await upsert("park-v", {
      phone: "+79168000001",
      sms_enabled: "yes",
      name: 7,
      order_options: { requirements: [1], payment_method: "barter" },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.details.fields.map((f: { path: string }) => f.path).sort()).toEqual([
      "body.name",
      "body.order_options.payment_method",
      "body.order_options.requirements.0",
      "body.sms_enabled",
    ]);
    const id = (await upsert("park-v", { phone: "+79168000001" })).body.customer_id;
    const paths = async (res: Promise<{ status: number; body: any }>) => {
      const r = await res;
      expect(r.status).toBe(400);
      return r.body.details.fields.map((f: { path: string }) => f.path);
    };
    const point = { address: "A", lat: 55, lon: 37 };
    expect(await paths(app.call("POST", `${BASE}/customers/${id}/routes`, { park: "park-v", body: { points: Array(11).fill(point) } }))).toEqual([
      "body.points",
    ]);
    expect(await paths(app.call("POST", `${BASE}/customers/${id}/routes`, { park: "park-v", body: { points: [point] } }))).toEqual(["body.points"]);
    const requirements = Array.from({ length: 21 }, (_, i) => `r${i}`);
    expect(await paths(upsert("park-v", { phone: "+79168000001", order_options: { requirements } }))).toEqual(["body.order_options.requirements"]);
    const ids = Array.from({ length: 101 }, (_, i) => `pd-${i}`);
    expect(await paths(app.call("POST", `${BASE}/takeout/v1/delete`, { token: TOKENS.internal, body: { phone_pd_ids: ids } }))).toEqual(["body.phone_pd_ids"]);
    expect(await paths(app.call("POST", `${BASE}/customers/${id}/locations`, { park: "park-v", body: { address: " ", lat: 91, lon: "37" } }))).toEqual([
      "body.address",
      "body.lat",
      "body.lon",
    ]);
    expect(await paths(customer("park-v", "not-a-uuid"))).toEqual(["params.customer_id"]);
    const route = (schedule: unknown) => app.call("POST", `${BASE}/customers/${id}/routes`, { park: "park-v", body: { points: [point, point], schedule } });
    expect(await paths(route({ days: [1, 8], time: "25:00" }))).toEqual(["body.schedule.days.1", "body.schedule.time"]);
    expect(await paths(route({ days: [1, 1], time: "08:00" }))).toEqual(["body.schedule.days"]);
    expect((await app.call("PUT", `${BASE}/customers`, { park: "park-v", rawBody: "{nope" })).body.code).toBe("invalid_json");
    expect((await app.call("PUT", `${BASE}/customers`, { body: { phone: "+79168000001" } })).body.code).toBe("missing_identity");
  });

  it("bad input - unknown fields, top-level or nested, are 400 naming them and nothing is written", async () => {
    const before = await settledCounts();
    expect(await upsert("park-v", { phone: "+79168000002", nickname: "Zed" })).toMatchObject({
      status: 400,
      body: { details: { fields: [{ path: "body.nickname" }] } },
    });
    const nested = await upsert("park-v", { phone: "+79168000002", order_options: { tarif: "econom" } });
    expect(nested.body.details.fields.map((f: { path: string }) => f.path)).toEqual(["body.order_options.tarif"]);
    expect(await counts(app.db)).toEqual(before);
  });

  it("retries - a location or route POST retried with its key after its answer was lost adds it once, under the same id", async () => {
    const created = await upsert("park-a", { phone: "+79161000077", name: "Retry" });
    const id = created.body.customer_id;
    for (const [what, body] of [
      ["locations", home],
      ["routes", { points: [{ address: home.address, lat: home.lat, lon: home.lon }, work] }],
    ] as const) {
      const headers = { "idempotency-key": `add-${what}` };
      const first = await app.call("POST", `${BASE}/customers/${id}/${what}`, { park: "park-a", headers, body });
      expect(first.status).toBe(201);
      // The commit landed but the answer was never recorded (a crash between the two): the retry runs again.
      await app.db.sql`delete from idempotency_keys where key = ${`add-${what}`}`;
      const retry = await app.call("POST", `${BASE}/customers/${id}/${what}`, { park: "park-a", headers, body });
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
    }
    const view = (await customer("park-a", id)).body;
    expect(view.locations).toHaveLength(1);
    expect(view.routes).toHaveLength(1);
  });
});
