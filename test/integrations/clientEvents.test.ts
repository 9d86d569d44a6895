// The client-events client against its simulator: bulk notifications delivered once per key through
// retries, lost answers and outages; a reused key refused; bad input and aborts.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults, PartnerRejectedError, PartnerUnavailableError } from "../../integrations/index.ts";
import {
  clientEventsClient,
  startClientEventsSimulator,
  type ClientEventsClient,
  type ClientEventsSimulator,
  type DriverNotification,
} from "../../integrations/clientEvents/index.ts";
import { until } from "./support.ts";

let sim: ClientEventsSimulator;
let events: ClientEventsClient;
beforeAll(async () => {
  sim = await startClientEventsSimulator();
  events = clientEventsClient({ baseUrl: sim.url, timeoutMs: 500, retries: 20, retryBaseMs: 10, maxDelayMs: 50 });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  Object.assign(sim.faults, noFaults());
  sim.stats.requests = 0;
});

let keys = 0;
const nextKey = (step = "matched") => `matching-${++keys}:${step}`;
const pair = (matching: string): DriverNotification[] => [
  {
    park_id: "park-1",
    driver_id: "newbie-1",
    event: "mentorship.matched",
    payload: { matching_id: matching, role: "newbie", counterpart: { park_id: "park-1", driver_id: "mentor-1" } },
  },
  {
    park_id: "park-1",
    driver_id: "mentor-1",
    event: "mentorship.matched",
    payload: { matching_id: matching, role: "mentor", counterpart: { park_id: "park-1", driver_id: "newbie-1" } },
  },
];
const deliveredUnder = (key: string) => sim.delivered().filter((n) => n.idempotency_key === key);

describe("client-events", () => {
  it("pushBulk - delivers every notification of the push, with its key, in order", async () => {
    const key = nextKey();
    await events.pushBulk(key, pair("m1"));
    expect(deliveredUnder(key)).toEqual(pair("m1").map((n) => ({ idempotency_key: key, ...n })));
    const other = await fetch(`${sim.url}/__client-events/notifications`);
    expect(((await other.json()) as { notifications: unknown[] }).notifications).toContainEqual({ idempotency_key: key, ...pair("m1")[1] });
  });

  it("pushBulk - the same key again (a retry after a crash) delivers nothing twice, even with the payload's keys in another order", async () => {
    const key = nextKey();
    await events.pushBulk(key, pair("m2"));
    const reordered = pair("m2").map((n) => ({
      payload: Object.fromEntries(Object.entries(n.payload).reverse()),
      event: n.event,
      driver_id: n.driver_id,
      park_id: n.park_id,
    }));
    await events.pushBulk(key, reordered);
    await events.pushBulk(key, pair("m2"));
    expect(deliveredUnder(key)).toHaveLength(2);
  });

  it("pushBulk - another step of the same matching has its own key and is delivered", async () => {
    const matched = nextKey("matched");
    const day7 = matched.replace("matched", "day7");
    await events.pushBulk(matched, pair("m3"));
    await events.pushBulk(day7, [{ park_id: "park-1", driver_id: "mentor-1", event: "mentorship.progress", payload: { day: 7 } }]);
    expect(deliveredUnder(matched)).toHaveLength(2);
    expect(deliveredUnder(day7)).toEqual([
      { idempotency_key: day7, park_id: "park-1", driver_id: "mentor-1", event: "mentorship.progress", payload: { day: 7 } },
    ]);
  });

  it("pushBulk - every answer lost on the way back: the retries reach the partner again, and each notification is delivered once", async () => {
    sim.faults.lostReplyRate = 1;
    const key = nextKey();
    const pushed = events.pushBulk(key, pair("m4"));
    await until(() => sim.stats.requests >= 3);
    sim.faults.lostReplyRate = 0;
    await pushed;
    expect(deliveredUnder(key)).toHaveLength(2);
  });

  it("pushBulk - down past the retries is client_events_unavailable and delivers nothing; the later retry delivers once", async () => {
    sim.faults.down = true;
    const key = nextKey();
    const once = clientEventsClient({ baseUrl: sim.url, timeoutMs: 500, retries: 1, retryBaseMs: 10 });
    const error = await once.pushBulk(key, pair("m5")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect(error).toMatchObject({ code: "client_events_unavailable" });
    expect(deliveredUnder(key)).toEqual([]);
    sim.faults.down = false;
    await once.pushBulk(key, pair("m5"));
    expect(deliveredUnder(key)).toHaveLength(2);
  });

  it("pushBulk - a used key with other notifications is refused (409) and not retried; the first push stands", async () => {
    const key = nextKey();
    await events.pushBulk(key, pair("m6"));
    sim.stats.requests = 0;
    const error = await events.pushBulk(key, pair("m6-other")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerRejectedError);
    expect(error).toMatchObject({ code: "client_events_rejected", status: 409, body: { code: "idempotency_key_reused" } });
    expect(sim.stats.requests).toBe(1);
    expect(deliveredUnder(key).map((n) => n.payload.matching_id)).toEqual(["m6", "m6"]);
  });

  it("pushBulk - nothing to push sends nothing; more than 1000, an empty key or an empty driver id is refused with 400", async () => {
    await events.pushBulk(nextKey(), []);
    expect(sim.stats.requests).toBe(0);
    const many = Array.from({ length: 1001 }, (_, i) => ({ park_id: "p", driver_id: `d${i}`, event: "e", payload: {} }));
    await expect(events.pushBulk(nextKey(), many)).rejects.toMatchObject({ status: 400, body: { issues: [{ path: "notifications" }] } });
    await expect(events.pushBulk("", pair("m7"))).rejects.toMatchObject({ status: 400, body: { issues: [{ path: "idempotency_key" }] } });
    const noDriver = [{ park_id: "p", driver_id: "", event: "e", payload: {} }];
    await expect(events.pushBulk(nextKey(), noDriver)).rejects.toMatchObject({ status: 400, body: { issues: [{ path: "notifications.0.driver_id" }] } });
    expect(sim.delivered().filter((n) => n.park_id === "p")).toEqual([]);
  });

  it("pushBulk - a caller that aborts mid-retry gets its reason at once", async () => {
    sim.faults.down = true;
    const caller = new AbortController();
    const pushed = events.pushBulk(nextKey(), pair("m8"), caller.signal).catch((e: unknown) => e);
    await until(() => sim.stats.requests >= 1);
    caller.abort(new Error("actor stopped"));
    expect(await pushed).toMatchObject({ message: "actor stopped" });
  });
});
