// The incremental feeds (`/internal/v1/id/updates`, `/internal/v1/status/updates`) while writers
// commit out of order: a poller following the cursor never misses a row and ends with every
// row's final state; a person the profiles cache cannot place yet waits for a later page; a full
// load lists each person's current status. Writers use the very projection the session actors
// commit with.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProjectedActor } from "../../actors/ActorKind.ts";
import type { KrtSessionContext } from "../../machines/krtSession.machine.ts";
import { projectKrtSessions } from "../../services/driverStatus/projection.ts";
import { eventually, runProjection } from "../support/harness.ts";
import { startTestInstance, type TestInstance } from "../support/instance.ts";
import { internal } from "./driverStatus.support.ts";

type FeedItem = { driver_license_pd_id: string };

/**
 * A page once it lists `ready` (at least n rows, or these persons): the feeds hold back rows
 * written behind any transaction still open in the database (other tests' too) while it is open.
 */
const pageOf = (path: string, ready: number | string[]) =>
  eventually(async () => {
    const page = await internal(app, path);
    const items: FeedItem[] = page.status === 200 ? page.body.items : [];
    const seen = typeof ready === "number" ? items.length >= ready : ready.every((id) => items.some((i) => i.driver_license_pd_id === id));
    return seen ? page : undefined;
  });

let app: TestInstance;
const LICENCES = 24;
const licence = (i: number) => `pd-feed-${i}`;

beforeAll(async () => {
  // The profiles cache syncs only when a test asks (refreshCaches): whether it has synced since a
  // row was written decides whether the feed waits for that row's person.
  app = await startTestInstance({ DRIVER_CACHE_REFRESH_MS: "3600000" });
  app.simulators.driverProfiles!.upsert(
    Array.from({ length: LICENCES }, (_, i) => ({ park_id: "park-f", driver_id: `f${i}`, driver_license_pd_id: licence(i) })),
  );
  await app.services.driverStatus.refreshCaches();
});
afterAll(async () => {
  await app.close();
});

/** A committed session actor as the projection sees it: bound to `deptrans`, with a session change `seq` at `at`. */
function actor(id: string, deptrans: string, seq: number, at: number): ProjectedActor<KrtSessionContext> {
  const context: KrtSessionContext = {
    id,
    deptrans_id: deptrans,
    bound_at: at,
    profiles: [],
    pending: null,
    inflight: null,
    last_sent: null,
    session: { status: seq % 2 ? "active" : "paused", ended_at: at + 3_600_000, updated_at: at, seq },
    attempt: 0,
    last_error: null,
  };
  return { id, value: { bound: "idle" }, context, at };
}

interface Feeds {
  ids: Map<string, string>;
  statuses: Set<string>;
  idCursor: string | undefined;
  statusCursor: string | undefined;
}

/** One poll of each feed from its cursor, applied to what the consumer holds; true if anything came. */
async function poll(feeds: Feeds): Promise<boolean> {
  const q = (c: string | undefined) => `limit=7${c ? `&cursor=${c}` : ""}`;
  const ids = await internal(app, `/internal/v1/id/updates?${q(feeds.idCursor)}`);
  const statuses = await internal(app, `/internal/v1/status/updates?${q(feeds.statusCursor)}`);
  expect(ids.status).toBe(200);
  expect(statuses.status).toBe(200);
  for (const item of ids.body.items) feeds.ids.set(item.driver_license_pd_id, item.updated_at);
  for (const item of statuses.body.items) feeds.statuses.add(`${item.driver_license_pd_id}@${item.updated_at}`);
  feeds.idCursor = ids.body.cursor;
  feeds.statusCursor = statuses.body.cursor;
  return ids.body.items.length + statuses.body.items.length > 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("incremental feeds", () => {
  it("a row committed after a later-started one is not skipped: the feed waits for the open transaction", async () => {
    const feeds: Feeds = { ids: new Map(), statuses: new Set(), idCursor: undefined, statusCursor: undefined };
    while (await poll(feeds));
    const base = Date.parse("2026-03-01T00:00:00Z");
    let releaseFirst!: () => void;
    const firstHolds = new Promise<void>((r) => (releaseFirst = r));
    let firstWrote!: () => void;
    const firstHasWritten = new Promise<void>((r) => (firstWrote = r));
    // T1 writes first (lower transaction id and sequence) but commits last.
    const first = app.testDb.sql.begin(async (tx) => {
      await runProjection(tx, (accepted) => projectKrtSessions(tx, [actor(licence(0), "7000000001", 1, base)], accepted));
      firstWrote();
      await firstHolds;
    });
    await firstHasWritten;
    await app.testDb.sql.begin((tx) => runProjection(tx, (accepted) => projectKrtSessions(tx, [actor(licence(1), "7000000002", 1, base + 1)], accepted)));
    await poll(feeds);
    // T2 is committed, but handing it out now would move the cursor past T1's rows.
    expect(feeds.ids.has(licence(1))).toBe(false);
    releaseFirst();
    await first;
    for (let i = 0; i < 50 && !(feeds.ids.has(licence(0)) && feeds.ids.has(licence(1))); i++) {
      await poll(feeds);
      await sleep(20);
    }
    expect(feeds.ids.get(licence(0))).toBe(new Date(base).toISOString());
    expect(feeds.ids.get(licence(1))).toBe(new Date(base + 1).toISOString());
    expect(feeds.statuses.has(`${licence(0)}@${new Date(base).toISOString()}`)).toBe(true);
  });

  it("concurrent writers committing out of order (some rolling back): the poller ends with every row's final state", async () => {
    const feeds: Feeds = { ids: new Map(), statuses: new Set(), idCursor: undefined, statusCursor: undefined };
    while (await poll(feeds)); // the full load first: it lists current statuses, the history follows
    const base = Date.parse("2026-04-01T00:00:00Z");
    let tick = 0;
    const seqs = new Map<string, number>();
    let writing = true;
    const writer = async (w: number) => {
      for (let n = 0; n < 30; n++) {
        const id = licence(Math.floor(Math.random() * LICENCES));
        const seq = (seqs.get(id) ?? 100) + 1;
        seqs.set(id, seq);
        const at = base + ++tick;
        await app.testDb.sql
          .begin(async (tx) => {
            await runProjection(tx, (accepted) => projectKrtSessions(tx, [actor(id, String(7_100_000_000 + at - base), seq, at)], accepted));
            await sleep(Math.random() * 15); // committed later than writers that started after it
            if (Math.random() < 0.1) throw new Error("rolled back");
          })
          .catch(() => {});
        if (w === 0 && n % 10 === 0) await sleep(5);
      }
    };
    const poller = (async () => {
      while (writing) {
        await poll(feeds);
        await sleep(3);
      }
    })();
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    writing = false;
    await poller;
    for (let quiet = 0; quiet < 3; ) quiet = (await poll(feeds)) ? 0 : quiet + 1;

    const profiles = await app.testDb.sql<{ driver_license_pd_id: string; updated_at: Date }[]>`select driver_license_pd_id, updated_at from profiles`;
    expect(profiles.length).toBeGreaterThan(0);
    for (const row of profiles) expect(feeds.ids.get(row.driver_license_pd_id), row.driver_license_pd_id).toBe(row.updated_at.toISOString());
    const history = await app.testDb.sql<{ driver_license_pd_id: string; updated_at: Date }[]>`select driver_license_pd_id, updated_at from session_statuses`;
    expect(new Set(history.map((r) => `${r.driver_license_pd_id}@${r.updated_at.toISOString()}`))).toEqual(feeds.statuses);
  });

  it("a person the profiles cache does not know yet is held for a later page, never passed by the cursor: once his profile arrives he is listed", async () => {
    const profile = (id: string) => ({ park_id: "park-f", driver_id: `f-${id}`, driver_license_pd_id: id });
    app.simulators.driverProfiles!.upsert([profile("pd-before"), profile("pd-after")]);
    await app.services.driverStatus.refreshCaches();
    const feeds: Feeds = { ids: new Map(), statuses: new Set(), idCursor: undefined, statusCursor: undefined };
    while (await poll(feeds));
    // Written by another instance whose cache already knew "pd-late" (ours has not synced since).
    const at = Date.now();
    for (const [i, id] of ["pd-before", "pd-late", "pd-after"].entries()) {
      await app.testDb.sql.begin((tx) => runProjection(tx, (accepted) => projectKrtSessions(tx, [actor(id, `720000000${i}`, 1, at)], accepted)));
    }
    const held = await pageOf(`/internal/v1/status/updates?limit=7&cursor=${feeds.statusCursor}`, ["pd-before"]);
    await poll(feeds);
    // Before: the page skipped "pd-late" (no profile known) and its cursor passed him: he was never listed.
    expect(held.body.items.map((i: { driver_license_pd_id: string }) => i.driver_license_pd_id)).toEqual(["pd-before"]);
    expect(held.body.has_more).toBe(false);
    expect(feeds.ids.has("pd-before")).toBe(true);
    expect(feeds.ids.has("pd-late")).toBe(false);
    expect(feeds.ids.has("pd-after")).toBe(false); // behind him, so it waits too

    app.simulators.driverProfiles!.upsert([profile("pd-late")]);
    await app.services.driverStatus.refreshCaches();
    while (await poll(feeds));
    for (const id of ["pd-late", "pd-after"]) {
      expect(feeds.ids.get(id)).toBe(new Date(at).toISOString());
      expect(feeds.statuses.has(`${id}@${new Date(at).toISOString()}`)).toBe(true);
    }
  });

  it("a person with no profile left is passed once a profiles sync begun after his row still finds none: the feed never stalls on him", async () => {
    const feeds: Feeds = { ids: new Map(), statuses: new Set(), idCursor: undefined, statusCursor: undefined };
    while (await poll(feeds));
    const at = Date.now() - 5_000;
    await app.testDb.sql.begin((tx) =>
      runProjection(tx, (accepted) => projectKrtSessions(tx, [actor("pd-gone", "7300000001", 1, at), actor(licence(4), "7300000002", 401, at)], accepted)),
    );
    await app.services.driverStatus.refreshCaches(); // begins after his row: driver-profiles has none of his
    while (await poll(feeds));
    expect(feeds.ids.has("pd-gone")).toBe(false);
    expect(feeds.ids.get(licence(4))).toBe(new Date(at).toISOString());
  });

  it("a full load of the session statuses lists each person once, with his current status, over any number of pages; then the cursor lists every change", async () => {
    const at = Date.parse("2026-05-01T00:00:00Z");
    const write = (id: string, seq: number) =>
      app.testDb.sql.begin((tx) => runProjection(tx, (accepted) => projectKrtSessions(tx, [actor(id, "7400000001", seq, at + seq)], accepted)));
    for (const seq of [501, 502, 503]) await write(licence(5), seq);
    for (const seq of [601, 602]) await write(licence(6), seq);
    const listed: { driver_license_pd_id: string; session_status: string; updated_at: string }[] = [];
    let cursor = "";
    for (let more = true; more; ) {
      const page = await internal(app, `/internal/v1/status/updates?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      listed.push(...page.body.items);
      cursor = page.body.cursor;
      more = page.body.has_more;
    }
    // Before: the full load was the whole history, each person as many times as his session changed.
    const persons = listed.map((i) => i.driver_license_pd_id);
    expect(persons.length).toBeGreaterThan(2);
    expect(new Set(persons).size).toBe(persons.length);
    // Every person with a profile (pd-gone, of the test before, has none: he is passed).
    const [latest] = await app.testDb.sql<{ n: number }[]>`
      select count(distinct driver_license_pd_id)::int as n from session_statuses where driver_license_pd_id <> 'pd-gone'`;
    expect(persons.length).toBe(latest!.n);
    expect(listed.find((i) => i.driver_license_pd_id === licence(5))).toMatchObject({ session_status: "active", updated_at: new Date(at + 503).toISOString() });
    expect(listed.find((i) => i.driver_license_pd_id === licence(6))).toMatchObject({ session_status: "paused", updated_at: new Date(at + 602).toISOString() });

    for (const seq of [504, 505]) await write(licence(5), seq);
    // The feed holds back rows behind any transaction still open in the database (other tests' too).
    const next = await pageOf(`/internal/v1/status/updates?limit=10&cursor=${cursor}`, 2);
    expect(next.body.items.map((i: { updated_at: string }) => i.updated_at)).toEqual([new Date(at + 504).toISOString(), new Date(at + 505).toISOString()]);
  });

  it("a full load held before a person the profiles cache cannot place yet stays a full load when it goes on", async () => {
    const profile = (id: string) => ({ park_id: "park-f", driver_id: `f-${id}`, driver_license_pd_id: id });
    app.simulators.driverProfiles!.upsert([profile("pd-h1"), profile("pd-h3")]);
    await app.services.driverStatus.refreshCaches();
    const at = Date.now();
    const write = (id: string, seq: number) =>
      app.testDb.sql.begin((tx) => runProjection(tx, (accepted) => projectKrtSessions(tx, [actor(id, "7500000001", seq, at + seq)], accepted)));
    for (const [id, seq] of [
      ["pd-h1", 1],
      ["pd-h1", 2],
      ["pd-h2", 1],
      ["pd-h3", 1],
      ["pd-h3", 2],
      ["pd-h3", 3],
    ] as const)
      await write(id, seq);
    // Until no transaction older than these rows is open (other test files' too), the feed hands
    // out only some of them and the full load would end early, at the last row it could see.
    await eventually(
      async () =>
        (
          await app.testDb.sql<{ n: number }[]>`select count(*)::int as n from session_statuses
            where driver_license_pd_id like 'pd-h%' and change_xid < pg_snapshot_xmin(pg_current_snapshot())`
        )[0]!.n === 6,
    );
    const persons = (page: { body: { items: { driver_license_pd_id: string }[] } }) => page.body.items.map((i) => i.driver_license_pd_id);
    const held = await pageOf("/internal/v1/status/updates?limit=1000", ["pd-h1"]);
    expect(held.body.has_more).toBe(false);
    expect(persons(held)).toContain("pd-h1");
    expect(persons(held)).not.toContain("pd-h2");

    app.simulators.driverProfiles!.upsert([profile("pd-h2")]);
    await app.services.driverStatus.refreshCaches();
    const rest = await pageOf(`/internal/v1/status/updates?limit=1000&cursor=${held.body.cursor}`, ["pd-h2", "pd-h3"]);
    // Each person once, with his current status: not pd-h3's history.
    expect(persons(rest)).toEqual(["pd-h2", "pd-h3"]);
    expect(rest.body.items[1].updated_at).toBe(new Date(at + 3).toISOString());
    // The full load reached the end: what follows is the history again.
    await write("pd-h3", 4);
    await write("pd-h3", 5);
    const next = await pageOf(`/internal/v1/status/updates?limit=1000&cursor=${rest.body.cursor}`, 2);
    expect(next.body.items.map((i: { updated_at: string }) => i.updated_at)).toEqual([new Date(at + 4).toISOString(), new Date(at + 5).toISOString()]);
  });

  it("a cursor that was not handed out is 400", async () => {
    expect((await internal(app, "/internal/v1/id/updates?cursor=nonsense")).status).toBe(400);
  });
});
