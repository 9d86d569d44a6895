// Property: whatever several parks do at once to customers with the same phones, no park reads,
// changes or deletes another park's customer. Each park runs its random operations in order
// against its own model while the parks interleave freely; ids taken from other parks at any
// moment must always answer 404.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE, startCustomerApp, type CustomerApp } from "./customers.support.ts";

let app: CustomerApp;
beforeAll(async () => {
  app = await startCustomerApp();
});
afterAll(async () => {
  await app.close();
});

const PHONES = 4;
/** The same four numbers as dispatchers type them in different ways. */
const formats = (i: number) => [`+7916900000${i}`, `8 (916) 900-00-0${i}`, `+7 916 900 00 0${i}`, `916900000${i}`];

type Op =
  | { kind: "upsert"; phone: number; format: number; sms: boolean }
  | { kind: "find"; phone: number; format: number }
  | { kind: "get" | "delete" | "addLocation"; phone: number; foreign: boolean }
  | { kind: "patch"; phone: number; foreign: boolean; sms: boolean };

const phone = fc.integer({ min: 0, max: PHONES - 1 });
const format = fc.integer({ min: 0, max: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("upsert" as const), phone, format, sms: fc.boolean() }),
  fc.record({ kind: fc.constant("find" as const), phone, format }),
  fc.record({ kind: fc.constantFrom("get" as const, "delete" as const, "addLocation" as const), phone, foreign: fc.boolean() }),
  fc.record({ kind: fc.constant("patch" as const), phone, foreign: fc.boolean(), sms: fc.boolean() }),
);

interface Modelled {
  id: string;
  sms: boolean;
  locations: number;
}

let run = 0;

describe("customers isolation", () => {
  it("isolation - random interleavings by several parks on the same phones never cross parks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 3, maxLength: 12 }), { minLength: 2, maxLength: 4 }), async (plans) => {
        const parks = plans.map((_, i) => `iso-${++run}-${i}`);
        /** Every id each park has ever had per phone, visible to the other parks as they go. */
        const issued = new Map(parks.map((p) => [p, new Map<number, string[]>()]));
        const models = new Map(parks.map((p) => [p, new Map<number, Modelled>()]));

        const foreignId = (park: string, phoneIdx: number): string => {
          const others = parks.filter((p) => p !== park).flatMap((p) => issued.get(p)!.get(phoneIdx) ?? []);
          return others.at(-1) ?? randomUUID();
        };

        const runPark = async (park: string, plan: Op[]) => {
          const model = models.get(park)!;
          for (const step of plan) {
            const own = model.get(step.phone);
            const target =
              "foreign" in step && step.foreign ? foreignId(park, step.phone) : (own?.id ?? issued.get(park)!.get(step.phone)?.at(-1) ?? randomUUID());
            const exists = !("foreign" in step && step.foreign) && own !== undefined;
            const where = `${park} ${JSON.stringify(step)}`;
            switch (step.kind) {
              case "upsert": {
                const res = await app.call("PUT", `${BASE}/customers`, { park, body: { phone: formats(step.phone)[step.format], sms_enabled: step.sms } });
                expect(res.status, where).toBe(own ? 200 : 201);
                if (own) expect(res.body.customer_id, where).toBe(own.id);
                model.set(step.phone, { id: res.body.customer_id, sms: step.sms, locations: own?.locations ?? 0 });
                const ids = issued.get(park)!;
                if (!own) ids.set(step.phone, [...(ids.get(step.phone) ?? []), res.body.customer_id]);
                break;
              }
              case "find": {
                const res = await app.call("POST", `${BASE}/customers/find`, { park, body: { phone: formats(step.phone)[step.format] } });
                expect(res.status, where).toBe(own ? 200 : 404);
                if (own) expect(res.body, where).toMatchObject({ customer_id: own.id, sms_enabled: own.sms, locations: { length: own.locations } });
                break;
              }
              case "get": {
                const res = await app.call("GET", `${BASE}/customers/${target}`, { park });
                expect(res.status, where).toBe(exists ? 200 : 404);
                if (exists) expect(res.body, where).toMatchObject({ customer_id: own!.id, sms_enabled: own!.sms });
                break;
              }
              case "patch": {
                const res = await app.call("PATCH", `${BASE}/customers/${target}`, { park, body: { sms_enabled: step.sms } });
                expect(res.status, where).toBe(exists ? 200 : 404);
                if (exists) own!.sms = step.sms;
                break;
              }
              case "addLocation": {
                const res = await app.call("POST", `${BASE}/customers/${target}/locations`, { park, body: { address: park, lat: 55, lon: 37 } });
                expect(res.status, where).toBe(exists ? 201 : 404);
                if (exists) own!.locations++;
                break;
              }
              case "delete": {
                const res = await app.call("DELETE", `${BASE}/customers/${target}`, { park });
                expect(res.status, where).toBe(exists ? 204 : 404);
                if (exists) model.delete(step.phone);
                break;
              }
            }
          }
        };
        await Promise.all(parks.map((park, i) => runPark(park, plans[i]!)));

        // What the tables hold is exactly each park's own model: nothing leaked in or out.
        const rows = await app.db.sql<{ park_id: string; customer_id: string; sms_enabled: boolean; locations: string; own_address: boolean }[]>`
          select c.park_id, c.customer_id, c.sms_enabled, count(l.location_id) as locations,
                 coalesce(bool_and(l.address = c.park_id), true) as own_address
          from customers c left join customer_locations l on l.customer_id = c.customer_id
          where c.park_id in ${app.db.sql(parks)} group by c.park_id, c.customer_id, c.sms_enabled`;
        const actual = rows.map((r) => ({ park: r.park_id, id: r.customer_id, sms: r.sms_enabled, locations: Number(r.locations), own: r.own_address }));
        const expected = parks.flatMap((park) =>
          [...models.get(park)!.values()].map((m) => ({ park, id: m.id, sms: m.sms, locations: m.locations, own: true })),
        );
        const order = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
        expect(actual.sort(order)).toEqual(expected.sort(order));
      }),
      { numRuns: 30 },
    );
  }, 120_000);
});
