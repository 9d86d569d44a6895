// Personal data: after a scenario with known phones and names, neither a dump of every table of
// the service's schema, nor the logs, nor the metrics, nor the public events contain them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { BASE, startCustomerApp, TOKENS, type CustomerApp } from "./customers.support.ts";

let app: CustomerApp;
beforeAll(async () => {
  app = await startCustomerApp();
});
afterAll(async () => {
  await app.close();
});

const people = [
  { typed: "8 (926) 555-12-34", e164: "+79265551234", name: "Светлана Кузнецова" },
  { typed: "+7 903 777 00 11", e164: "+79037770011", name: "Olga Smirnova" },
  { typed: "9154443322", e164: "+79154443322", name: "Игорь" },
  { typed: "+44 20 7946 0958", e164: "+442079460958", name: "Mary Jones" },
];

/** Every way a phone or name could show up in text: as typed, E.164, digits only, local part. */
const needles = people.flatMap((p) => [p.typed, p.e164, p.e164.slice(1), p.e164.slice(-10), p.name, JSON.stringify(p.name).slice(1, -1)]);

async function dumpSchema(): Promise<string> {
  const tables = await app.db.sql<{ table_name: string }[]>`select table_name from information_schema.tables
    where table_schema = ${app.db.schema} and table_type = 'BASE TABLE' order by table_name`;
  expect(tables.map((t) => t.table_name)).toEqual(
    expect.arrayContaining(["customers", "customer_locations", "customer_routes", "customer_takeouts", "actor_outbox", "idempotency_keys"]),
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await app.db.sql<{ row: string }[]>`select row_to_json(t)::text as row from ${app.db.sql(table_name)} t`;
    parts.push(`${table_name}: ${rows.map((r) => r.row).join("\n")}`);
  }
  return parts.join("\n");
}

describe("customers personal data", () => {
  it("privacy - phones and names reach neither the tables, nor the logs, nor the metrics, nor the events", async () => {
    const publish = app.publish;
    let failOnce = true;
    // One failing publish, so the outbox keeps a row and a warning is logged.
    app.publish = async (subject, payload) => {
      if (failOnce) {
        failOnce = false;
        throw new Error("nats is away");
      }
      return publish(subject, payload);
    };
    const ids: string[] = [];
    for (const [i, p] of people.entries()) {
      for (const park of ["park-x", "park-y"]) {
        const res = await app.call("PUT", `${BASE}/customers`, { park, body: { phone: p.typed, name: p.name, sms_enabled: i % 2 === 0 } });
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({ phone: p.e164, name: p.name });
        ids.push(res.body.customer_id);
      }
      await app.call("POST", `${BASE}/customers/find`, { park: "park-x", body: { phone: p.e164 } });
      await app.call("POST", `${BASE}/customers/${ids.at(-1)}/locations`, {
        park: "park-y",
        body: { label: "home", address: "Arbat 10", lat: 55.75, lon: 37.59 },
        headers: { "idempotency-key": `loc-${i}` },
      });
      await app.call("PATCH", `${BASE}/customers/${ids.at(-1)}`, { park: "park-y", body: { name: `${p.name} `, sms_enabled: true } });
      await app.call("GET", `${BASE}/customers/${ids.at(-1)}`, { park: "park-y" });
      // Refusals too: a bad phone next to a real name, and a foreign park.
      await app.call("PUT", `${BASE}/customers`, { park: "park-x", body: { phone: `${p.e164}99`, name: p.name } });
      await app.call("GET", `${BASE}/customers/${ids.at(-1)}`, { park: "park-z" });
    }
    app.personal.faults.down = true;
    expect((await app.call("PUT", `${BASE}/customers`, { park: "park-x", body: { phone: people[0]!.typed, name: people[0]!.name } })).status).toBe(503);
    app.personal.faults.down = false;
    const pd = app.personal.preload("phones", people[0]!.e164);
    await app.call("POST", `${BASE}/takeout/v1/delete`, { token: TOKENS.internal, body: { phone_pd_ids: [pd] }, headers: { "idempotency-key": "takeout-1" } });
    await eventually(() => app.logs.some((l) => l.includes("customer deleted")));
    app.publish = publish;

    const dump = await dumpSchema();
    const logs = app.logs.join("\n");
    const metrics = await app.registry.metrics();
    const events = JSON.stringify(app.events);
    // The haystacks are not empty: the scenario did write, log, count and publish.
    expect(dump).toContain(ids[3]);
    expect(dump).toContain("Arbat 10");
    expect(logs).toContain("customer created");
    expect(logs).toContain("outbox delivery failed");
    expect(metrics).toContain("fleet_http_requests_total");
    expect(events).toContain(ids[1]);
    for (const needle of needles) {
      expect(dump, `table dump holds ${needle}`).not.toContain(needle);
      expect(logs, `logs hold ${needle}`).not.toContain(needle);
      expect(metrics, `metrics hold ${needle}`).not.toContain(needle);
      expect(events, `events hold ${needle}`).not.toContain(needle);
    }
    // Personal holds them instead, under the ids the tables keep.
    const [row] = await app.db.sql<{ personal_phone_id: string }[]>`select personal_phone_id from customers where customer_id = ${ids[1]!}`;
    expect(row).toBeUndefined(); // erased by the takeout above
    const [kept] = await app.db.sql<{ personal_phone_id: string }[]>`select personal_phone_id from customers where customer_id = ${ids[3]!}`;
    expect(kept!.personal_phone_id).toBe(app.personal.preload("phones", people[1]!.e164));
  });

  it("addresses and coordinates: the idempotency store keeps only the new item's id, a repeat answers from the customer; deleting the customer forgets its requests", async () => {
    const created = await app.call("PUT", `${BASE}/customers`, { park: "park-x", body: { phone: "+79991112233", name: "Addr Test" } });
    const customer = created.body.customer_id as string;
    const home = { label: "home", address: "Prechistenka 17, flat 23", lat: 55.741234, lon: 37.594321 };
    const commute = {
      points: [
        { address: home.address, lat: home.lat, lon: home.lon },
        { address: "Tverskaya 7, office 5", lat: 55.761111, lon: 37.611111 },
      ],
    };
    const key = { "idempotency-key": "addr-1" };
    const first = await app.call("POST", `${BASE}/customers/${customer}/locations`, { park: "park-x", body: home, headers: key });
    expect(first.status).toBe(201);
    const firstRoute = await app.call("POST", `${BASE}/customers/${customer}/routes`, { park: "park-x", body: commute, headers: key });
    expect(firstRoute.status).toBe(201);
    const needles = [home.address, commute.points[1]!.address, "55.741234", "37.594321", "55.761111"];
    const stored = JSON.stringify(await app.db.sql`select * from idempotency_keys where key = 'addr-1'`);
    expect(stored).toContain(first.body.location_id); // the rows are there, holding the id only
    for (const needle of needles) expect(stored, needle).not.toContain(needle);

    const again = await app.call("POST", `${BASE}/customers/${customer}/locations`, { park: "park-x", body: home, headers: key });
    expect(again).toMatchObject({ status: 201, body: first.body });
    expect((await app.call("POST", `${BASE}/customers/${customer}/routes`, { park: "park-x", body: commute, headers: key })).body).toEqual(firstRoute.body);
    // The item removed since: its repeat finds nothing, it does not bring the address back.
    await app.call("DELETE", `${BASE}/customers/${customer}/locations/${first.body.location_id}`, { park: "park-x" });
    expect((await app.call("POST", `${BASE}/customers/${customer}/locations`, { park: "park-x", body: home, headers: key })).status).toBe(404);

    expect((await app.call("DELETE", `${BASE}/customers/${customer}`, { park: "park-x" })).status).toBe(204);
    // Its public "deleted" event (id only) waits in the outbox until the relay publishes it.
    await eventually(async () => (await app.db.sql`select 1 from actor_outbox where target like ${`%${customer}`}`).length === 0);
    const dump = await dumpSchema();
    expect(dump).not.toContain(customer);
    for (const needle of needles) expect(dump, needle).not.toContain(needle);
  });
});
