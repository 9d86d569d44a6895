// Thousands of sessions flipping while KRT lets us make 50 calls a second: the reports wait their
// turn at our rate limit (none refused krt_busy, none backing off), only each session's latest
// connectivity waits, and every session ends with KRT holding it. Waiting costs no commit per
// resume delay. A bind during that backlog goes ahead of it, or is refused 503 krt_busy when the
// binds' own queue is full; KRT down during the wait delays the reports, loses none. A session
// handed over while its report waits never has it sent by the old host. A report whose turn is far
// waits asleep on a durable timer, holding no call: an instance stopped meanwhile loses none.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StateValue } from "xstate";
import { stateName } from "../../actors/ActorKind.ts";
import { noFaults } from "../../integrations/simulator.ts";
import { eventually, testDatabase } from "../support/harness.ts";
import { startTestInstance, type TestInstance } from "../support/instance.ts";
import { addDrivers, asDriver, testDriver, type TestDriver } from "./driverStatus.support.ts";

const KRT_CALLS_PER_S = 50;
const ENV = {
  KRT_RATE_LIMIT_PER_S: String(KRT_CALLS_PER_S),
  KRT_QUEUE_MAX: "3",
  KRT_QUEUE_WAIT_MS: "600000",
  KRT_RETRY_BASE_MS: "200",
  KRT_RETRY_MAX_MS: "1000",
  PARTNER_RETRIES: "0",
  PARTNER_TIMEOUT_MS: "1000",
};
let app: TestInstance;
beforeAll(async () => {
  app = await startTestInstance(ENV);
}, 60_000);
afterAll(async () => {
  await app?.close();
});

const sessionOf = (d: TestDriver) => `krt-session/${d.licence}`;
const flip = (d: TestDriver, connected: boolean, at: number) =>
  app.system.tell(sessionOf(d), { type: "connectivity", park_id: d.park_id, driver_id: d.driver_id, connected, status_at: at }, { timeoutMs: 120_000 });

/** Bound without a KRT check (the actor's own bind), so that only the reports meet the rate limit. */
async function boundDrivers(n: number, tag: string, on = app): Promise<TestDriver[]> {
  const drivers = Array.from({ length: n }, () => testDriver({ tag }));
  await addDrivers(on, drivers);
  await Promise.all(drivers.map((d) => on.system.ask(sessionOf(d), { type: "bind", deptrans_id: d.krtId })));
  return drivers;
}

/** The connectivity of each driver's calls, in the order KRT received them. */
function krtHeard(drivers: readonly TestDriver[], ...instances: TestInstance[]): Map<string, boolean[]> {
  const heard = new Map<string, boolean[]>(drivers.map((d) => [d.krtId, []]));
  for (const on of instances.length ? instances : [app]) for (const c of on.simulators.krt!.calls()) heard.get(c.id)?.push(c.connected);
  return heard;
}

/** The sessions hosted by the instance whose report waits for its turn, asleep on the `turn` timer. */
const queuedSessions = (on: TestInstance) =>
  on.system.host.hosted().filter((c) => c.address.type === "krt-session" && stateName((c.snapshot()?.value ?? "none") as StateValue) === "bound.queued");

async function sessionRows(drivers: readonly TestDriver[], on = app) {
  return on.testDb.sql<{ version: number; attempt: number; last_error: string | null; pending: unknown; inflight: unknown }[]>`
    select version::int, (snapshot->'context'->>'attempt')::int as attempt, snapshot->'context'->>'last_error' as last_error,
      snapshot->'context'->'pending' as pending, snapshot->'context'->'inflight' as inflight
    from actor_snapshots where actor_type = 'krt-session' and actor_id = any(${drivers.map((d) => d.licence)}::text[])`;
}

const timerKeys = async (drivers: readonly TestDriver[]) =>
  (
    await app.testDb.sql<{ timer_key: string }[]>`
      select distinct timer_key from actor_timers where actor_type = 'krt-session' and actor_id = any(${drivers.map((d) => d.licence)}::text[])`
  ).map((r) => r.timer_key);

describe("KRT backlog", () => {
  it("2,000 sessions flipping at KRT's 50 calls/s: no report refused, each session's latest reaches KRT, commits stay a few per session; a bind meanwhile goes ahead or is 503 krt_busy", async () => {
    const drivers = await boundDrivers(2_000, "backlog");
    const latest = (i: number) => i % 4 !== 0; // a quarter end disconnected
    const t = Date.now();
    // Each session's first report waits its turn (2,000 at 50/s: ~40 s); the flips behind it
    // collapse into its latest: the same as the report under way (nothing more to say) or not.
    await Promise.all(drivers.map((d) => flip(d, true, t + 1)));
    await Promise.all(drivers.map((d) => flip(d, false, t + 2)));
    await Promise.all(drivers.map((d, i) => (latest(i) ? flip(d, true, t + 3) : undefined)));
    // Most wait asleep for a turn minutes away: no call, no invoked actor, only the snapshot and its timer.
    expect(queuedSessions(app).length).toBeGreaterThan(drivers.length / 2);
    await eventually(() => queuedSessions(app).every((c) => c.isIdle()), 5_000);
    expect(await timerKeys(drivers)).toContain("turn");

    const binders = Array.from({ length: 12 }, () => testDriver({ tag: "backlog-bind" }));
    await addDrivers(app, binders);
    const answers = await Promise.all(binders.map((d) => asDriver(app, d, "POST", { deptrans_id: d.krtId })));
    const reportsWhenBindsAnswered = app.simulators.krt!.calls().length;
    const seen = answers.map((a) => `${a.status} ${a.body?.code ?? ""}`.trim());
    expect(seen.filter((s) => s !== "200" && s !== "503 krt_busy")).toEqual([]);
    // Three may wait behind the one going: the others are refused at once, whatever the reports' backlog.
    expect(seen.filter((s) => s === "503 krt_busy").length).toBeGreaterThanOrEqual(6);
    expect(seen.filter((s) => s === "200").length).toBeGreaterThanOrEqual(1);
    // Every bind was answered while most reports still waited: the binds did not queue behind them.
    expect(reportsWhenBindsAnswered).toBeLessThan(drivers.length);

    await eventually(async () => (await sessionRows(drivers)).every((r) => r.pending === null && r.inflight === null), 150_000, 1_000);
    const heard = krtHeard(drivers);
    for (const [i, d] of drivers.entries()) {
      const calls = heard.get(d.krtId)!;
      expect(calls.at(-1), d.driver_id).toBe(latest(i));
      // Each report says something new: a flip behind one under way that undoes it is never sent.
      expect(
        calls.every((c, j) => j === 0 || c !== calls[j - 1]),
        `${d.driver_id}: ${calls.join()}`,
      ).toBe(true);
    }
    // Those answered before the second flip hear all three; most waited, and hear one or two.
    const short = drivers.filter((d, i) => heard.get(d.krtId)!.length === (latest(i) ? 1 : 2)).length;
    expect(short).toBeGreaterThan(drivers.length / 2);

    const rows = await sessionRows(drivers);
    expect(rows.length).toBe(drivers.length);
    expect(rows.filter((r) => r.attempt !== 0 || r.last_error !== null || r.pending !== null || r.inflight !== null)).toEqual([]);
    expect(await timerKeys(drivers)).toEqual([]); // no backoff, turn or resume timer was left
    // Per session: the bind, three flips, one or two answers, and the resume timer firing at 5, 15,
    // 35 s of a wait up to ~50 s: ~7 (measured 7.0). Set again every 5 s, it was 9.7.
    const commits = rows.reduce((sum, r) => sum + r.version, 0);
    expect(commits / drivers.length).toBeLessThanOrEqual(8);
  }, 300_000);

  it("KRT down while 300 reports wait their turn: those that met the outage back off and retry, none is lost, KRT ends with each latest", async () => {
    const krt = app.simulators.krt!;
    const drivers = await boundDrivers(300, "backlog-down");
    const t = Date.now();
    await Promise.all(drivers.map((d, i) => flip(d, i % 2 === 0, t + 1)));
    await eventually(() => krt.calls().some((c) => drivers.some((d) => d.krtId === c.id)), 10_000, 50);
    krt.faults.down = true;
    await Promise.all(drivers.map((d, i) => flip(d, i % 3 === 0, t + 2))); // some flip while KRT is down
    await new Promise((r) => setTimeout(r, 2_000));
    const heardDuringOutage = krtHeard(drivers);
    Object.assign(krt.faults, noFaults());

    const expected = (i: number) => i % 3 === 0;
    await eventually(async () => (await sessionRows(drivers)).every((r) => r.pending === null && r.inflight === null && r.attempt === 0), 120_000, 500);
    const heard = krtHeard(drivers);
    for (const [i, d] of drivers.entries()) {
      const calls = heard.get(d.krtId)!;
      // The last report KRT heard is the latest; a report may have been repeated after a failure.
      expect(calls.at(-1), d.driver_id).toBe(expected(i));
    }
    // The outage really cut reports off: some sessions had heard nothing when KRT went down.
    expect([...heardDuringOutage.values()].filter((calls) => calls.length === 0).length).toBeGreaterThan(0);
    const rows = await sessionRows(drivers);
    expect(rows.filter((r) => r.last_error !== null)).toEqual([]);
    expect(await timerKeys(drivers)).toEqual([]);
  }, 180_000);

  it("sessions handed over while their reports wait their turn: the old host never sends those reports (the new host would send its own)", async () => {
    const drivers = await boundDrivers(300, "backlog-handover");
    const t = Date.now();
    await Promise.all(drivers.map((d) => flip(d, true, t + 1)));
    await eventually(() => [...krtHeard(drivers).values()].some((calls) => calls.length > 0), 10_000, 20);
    // The last hundred wait at the back of the queue; their shard moves to another host now.
    const movedIds = new Set(drivers.slice(-100).map((d) => d.licence));
    const moved = drivers.filter((d) => movedIds.has(d.licence));
    expect([...krtHeard(moved).values()].every((calls) => calls.length === 0)).toBe(true);
    await app.system.host.release((a) => a.type === "krt-session" && movedIds.has(a.id));
    // The new host resumes them from their committed state (its own resume timers); here nobody does.
    await app.testDb.sql`delete from actor_timers where actor_type = 'krt-session' and actor_id = any(${[...movedIds]}::text[])`;

    const stayed = drivers.filter((d) => !movedIds.has(d.licence));
    await eventually(() => [...krtHeard(stayed).values()].every((calls) => calls.length === 1), 60_000, 100);
    await new Promise((r) => setTimeout(r, (100 / KRT_CALLS_PER_S) * 1_000 + 500)); // the moved reports' turns, had they kept them
    expect([...krtHeard(moved).values()].filter((calls) => calls.length > 0)).toEqual([]);
    const rows = await sessionRows(moved);
    expect(rows.every((r) => r.inflight !== null || r.pending !== null)).toBe(true); // still owed to KRT, by the next host
  }, 120_000);

  it("an instance stopped while 300 reports wait asleep for their turns: the next one on the same database sends each latest (the turns are durable timers)", async () => {
    const db = await testDatabase("krtturn");
    let first: TestInstance | undefined = await startTestInstance(ENV, { db });
    let second: TestInstance | undefined;
    try {
      const drivers = await boundDrivers(300, "backlog-restart", first);
      const t = Date.now();
      await Promise.all(
        drivers.map((d) =>
          first!.system.tell(sessionOf(d), { type: "connectivity", park_id: d.park_id, driver_id: d.driver_id, connected: true, status_at: t + 1 }),
        ),
      );
      await eventually(() => first!.simulators.krt!.calls().length > 0, 10_000, 20);
      expect(queuedSessions(first).length).toBeGreaterThan(drivers.length / 2);
      await first.stop();
      const heardBefore = krtHeard(drivers, first);
      first = undefined;

      second = await startTestInstance(ENV, { db });
      await addDrivers(second, drivers);
      await eventually(async () => (await sessionRows(drivers, second)).every((r) => r.pending === null && r.inflight === null), 60_000, 500);
      const heard = krtHeard(drivers, second);
      for (const d of drivers) {
        // Heard by the first instance's KRT or the second's; none lost. A report under way at the
        // stop is sent again by the next instance (KRT takes a repeat as it is), never more.
        const calls = [...heardBefore.get(d.krtId)!, ...heard.get(d.krtId)!];
        expect(calls.length, d.driver_id).toBeGreaterThanOrEqual(1);
        expect(calls.length, d.driver_id).toBeLessThanOrEqual(2);
        expect(calls.every((connected) => connected)).toBe(true);
      }
      // Most waited asleep at the stop and were sent by the second instance alone.
      expect([...heard.values()].filter((calls) => calls.length > 0).length).toBeGreaterThan(drivers.length / 2);
    } finally {
      await first?.stop();
      await second?.stop();
      await db.drop();
    }
  }, 120_000);
});
