// The driver-status service's pure parts: its settings (defaults, bad values named) and the
// krt-session actors mapped to the driver-status tables' rows.
import { describe, expect, it } from "vitest";
import type { ProjectedActor } from "../../actors/ActorKind.ts";
import { ConfigError } from "../../config.ts";
import type { KrtSessionContext } from "../../machines/krtSession.machine.ts";
import { refusals } from "../../services/driverStatus/canTakeOrders.ts";
import { driverStatusConfig } from "../../services/driverStatus/config.ts";
import { driverStatusRows } from "../../services/driverStatus/projection.ts";

describe("driverStatusConfig", () => {
  it("defaults - simulators for every partner, KRT's limits and backoff, a week of history, not blocking", () => {
    expect(driverStatusConfig({})).toEqual({
      urls: { krt: undefined, driverProfiles: undefined, driverCategories: undefined, trackstory: undefined, personal: undefined },
      krt: {
        clientId: "fleet",
        clientSecret: expect.any(String),
        ratePerSecond: 200,
        rateQueue: { maxQueue: 1_000, maxWaitMs: 5_000 },
        refreshMarginMs: 60_000,
        retry: { baseMs: 1_000, maxMs: 60_000 },
      },
      cacheRefreshMs: 5_000,
      sessionHistoryDays: 7,
      blocking: false,
    });
  });

  it("set - the variables are read", () => {
    const config = driverStatusConfig({
      KRT_URL: "http://krt:1",
      KRT_CLIENT_SECRET: "s",
      KRT_RETRY_BASE_MS: "100",
      KRT_QUEUE_MAX: "50",
      KRT_QUEUE_WAIT_MS: "250",
      SESSION_HISTORY_DAYS: "30",
      CAN_TAKE_ORDERS_BLOCKING: "true",
    });
    expect(config.urls.krt).toBe("http://krt:1");
    expect(config.krt.retry).toEqual({ baseMs: 100, maxMs: 60_000 });
    expect(config.krt.rateQueue).toEqual({ maxQueue: 50, maxWaitMs: 250 });
    expect(config.sessionHistoryDays).toBe(30);
    expect(config.blocking).toBe(true);
  });

  it("bad values - refused, naming the variable", () => {
    expect(() => driverStatusConfig({ SESSION_HISTORY_DAYS: "31" })).toThrow(ConfigError);
    expect(() => driverStatusConfig({ SESSION_HISTORY_DAYS: "31" })).toThrow(/SESSION_HISTORY_DAYS/);
    expect(() => driverStatusConfig({ KRT_URL: "krt" })).toThrow(/KRT_URL: expected a URL/);
  });

  it("a real KRT without its secret - refused: the secret has no default outside the simulator", () => {
    expect(() => driverStatusConfig({ KRT_URL: "http://krt:1" })).toThrow(/KRT_CLIENT_SECRET: required when KRT_URL is set/);
    expect(driverStatusConfig({}).krt.clientSecret).not.toBe(driverStatusConfig({}).krt.clientSecret);
  });
});

describe("driverStatusRows", () => {
  const context = (over: Partial<KrtSessionContext>): KrtSessionContext => ({
    id: "lic",
    deptrans_id: null,
    bound_at: null,
    profiles: [],
    pending: null,
    inflight: null,
    last_sent: null,
    session: null,
    attempt: 0,
    last_error: null,
    ...over,
  });
  const actor = (c: KrtSessionContext): ProjectedActor<KrtSessionContext> => ({ id: c.id, value: "unbound", context: c, at: 2_000 });

  it("an unbound actor without a session has no rows but his connectivity", () => {
    expect(driverStatusRows([actor(context({}))])).toEqual({
      krtIds: [],
      sessions: [],
      connectivity: [{ driver_license_pd_id: "lic", connected: false, updated_at: new Date(2_000) }],
    });
  });

  it("connectivity - unbound: any profile online or busy; bound: what KRT last confirmed, not what waits to be sent", () => {
    const online = [
      { profile: "p1/d1", connected: false, at: 1 },
      { profile: "p2/d2", connected: true, at: 2 },
    ];
    const rows = driverStatusRows([
      actor(context({ id: "u", profiles: online })),
      actor(context({ id: "b", deptrans_id: "1000000001", profiles: online, pending: { connected: true, at: 2 } })),
      actor(context({ id: "s", deptrans_id: "1000000002", last_sent: { connected: true, at: 2, sent_at: 3 } })),
    ]);
    expect(rows.connectivity.map((c) => [c.driver_license_pd_id, c.connected])).toEqual([
      ["u", true],
      ["b", false],
      ["s", true],
    ]);
  });

  it("a bound actor is a profiles row (bound at its bind, or the commit when unknown); its session a session_statuses row", () => {
    const rows = driverStatusRows([
      actor(context({ id: "a", deptrans_id: "1000000001", bound_at: 1_000, session: { status: "ended", ended_at: 9_000, updated_at: 5_000, seq: 3 } })),
      actor(context({ id: "b", deptrans_id: "1000000002", session: { status: "active", ended_at: null, updated_at: 6_000, seq: 1 } })),
    ]);
    expect(rows.krtIds).toEqual([
      { driver_license_pd_id: "a", deptrans_id: "1000000001", updated_at: new Date(1_000) },
      { driver_license_pd_id: "b", deptrans_id: "1000000002", updated_at: new Date(2_000) },
    ]);
    expect(rows.sessions).toEqual([
      { driver_license_pd_id: "a", session_seq: 3, session_status: "ended", updated_at: new Date(5_000), ended_at: new Date(9_000) },
      { driver_license_pd_id: "b", session_seq: 1, session_status: "active", updated_at: new Date(6_000), ended_at: null },
    ]);
  });
});

describe("refusals (can-take-orders inside a region)", () => {
  const now = 10_000;
  const session = (status: string, ended_at: number | null) => ({ status, ended_at: ended_at === null ? null : new Date(ended_at), updated_at: new Date(0) });
  const bound = "1000000001";

  it("an open shift is KRT's last answer active or paused, ending after now", () => {
    expect(refusals({ deptrans_id: bound, session: session("active", now + 1) }, now)).toEqual([]);
    expect(refusals({ deptrans_id: bound, session: session("paused", now + 1) }, now)).toEqual([]);
  });

  it("each failed condition is named: no id, no shift KRT vouches for (never answered, none, no end), an ended one", () => {
    expect(refusals({ deptrans_id: null, session: null }, now)).toEqual(["no_deptrans_id", "no_session"]);
    expect(refusals({ deptrans_id: bound, session: null }, now)).toEqual(["no_session"]);
    expect(refusals({ deptrans_id: bound, session: session("none", null) }, now)).toEqual(["no_session"]);
    expect(refusals({ deptrans_id: bound, session: session("active", null) }, now)).toEqual(["no_session"]);
    expect(refusals({ deptrans_id: bound, session: session("ended", now + 5_000) }, now)).toEqual(["session_ended"]);
    expect(refusals({ deptrans_id: bound, session: session("active", now) }, now)).toEqual(["session_ended"]);
    expect(refusals({ deptrans_id: null, session: session("paused", now - 1) }, now)).toEqual(["no_deptrans_id", "session_ended"]);
  });
});
