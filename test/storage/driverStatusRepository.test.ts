// Driver statuses' storage on both backends (Postgres and embedded PGlite): the projection writes
// only what changed, the feeds page in commit-safe order, history is pruned but the latest kept,
// and the KRT token is shared through its row.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbedded, type Database, type Queryable } from "../../storage/database.ts";
import {
  connectedDriverStatuses,
  driverStatusStatements,
  findDriverStatus,
  profileChanges,
  pruneSessionHistory,
  sessionChanges,
  startOfFeed,
  type DriverStatusRows,
} from "../../storage/driverStatusRepository.ts";
import { postgresTokenStore } from "../../services/driverStatus/krtTokenStore.ts";
import { runProjection, testDatabase } from "../support/harness.ts";

/** One person's rows: his KRT id (bound at 1,000) if any, and a session change `seq` at `at`. */
function person(id: string, deptrans: string | null, session: { seq: number; status: "active" | "paused" | "ended"; at: number } | null): DriverStatusRows {
  return {
    krtIds: deptrans ? [{ driver_license_pd_id: id, deptrans_id: deptrans, updated_at: new Date(1_000) }] : [],
    sessions: session
      ? [
          {
            driver_license_pd_id: id,
            session_seq: session.seq,
            session_status: session.status,
            updated_at: new Date(session.at),
            ended_at: new Date(session.at + 60_000),
          },
        ]
      : [],
    connectivity: [],
  };
}

/** The rows of several persons, as one commit batch writes them. */
const batchOf = (persons: DriverStatusRows[]): DriverStatusRows => ({
  krtIds: persons.flatMap((p) => p.krtIds),
  sessions: persons.flatMap((p) => p.sessions),
  connectivity: persons.flatMap((p) => p.connectivity),
});

const write = (tx: Queryable, ...persons: DriverStatusRows[]) => runProjection(tx, (accepted) => driverStatusStatements(tx, batchOf(persons), accepted));

const backends: [string, () => Promise<Database & { drop?: () => Promise<void> }>][] = [
  ["postgres", async () => testDatabase("drvstat")],
  ["pglite", async () => openEmbedded()],
];

describe.each(backends)("driver status storage on %s", (_name, open) => {
  let db: Database & { drop?: () => Promise<void> };
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    if (db.drop) await db.drop();
    else await db.close();
  });

  it("projection - binds and session changes are written once; an unchanged actor does not move in the feed", async () => {
    await db.sql.begin((tx) => write(tx, person("a", "1000000001", { seq: 1, status: "active", at: 5_000 }), person("b", null, null)));
    const first = await profileChanges(db.sql, startOfFeed, 10);
    expect(first.map((r) => [r.driver_license_pd_id, r.has_id])).toEqual([["a", true]]);
    await db.sql.begin((tx) => write(tx, person("a", "1000000001", { seq: 1, status: "active", at: 5_000 })));
    expect(await profileChanges(db.sql, first.at(-1)!.cursor, 10)).toEqual([]);
    expect(await sessionChanges(db.sql, startOfFeed, 10)).toHaveLength(1);

    await db.sql.begin((tx) => write(tx, person("a", "1000000009", { seq: 2, status: "paused", at: 6_000 })));
    const moved = await profileChanges(db.sql, first.at(-1)!.cursor, 10);
    expect(moved.map((r) => r.driver_license_pd_id)).toEqual(["a"]);
    const sessions = await sessionChanges(db.sql, startOfFeed, 10);
    expect(sessions.map((s) => s.session_status)).toEqual(["active", "paused"]);
    expect(await findDriverStatus(db.sql, "a")).toMatchObject({ deptrans_id: "1000000009", session: { status: "paused" } });
    expect(await findDriverStatus(db.sql, "nobody")).toEqual({ deptrans_id: null, session: null });
  });

  it("feeds - page by cursor in order, with no row twice and none skipped", async () => {
    for (let i = 0; i < 7; i++) await db.sql.begin((tx) => write(tx, person(`p${i}`, `20000000${i}0`, { seq: 1, status: "active", at: 10_000 + i })));
    const seen: string[] = [];
    let cursor = startOfFeed;
    for (;;) {
      const page = await sessionChanges(db.sql, cursor, 3);
      seen.push(...page.map((r) => `${r.driver_license_pd_id}@${r.updated_at.getTime()}`));
      if (page.length < 3) break;
      cursor = page.at(-1)!.cursor;
    }
    expect(seen.filter((row) => row.startsWith("p")).map((row) => row.split("@")[0])).toEqual(["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength((await db.sql`select 1 from session_statuses`).length);
  });

  it("history - rows older than the retention go, each person's latest stays", async () => {
    await db.sql.begin((tx) => write(tx, person("h", "3000000001", { seq: 1, status: "active", at: Date.parse("2026-01-01T00:00:00Z") })));
    await db.sql.begin((tx) => write(tx, person("h", "3000000001", { seq: 2, status: "paused", at: Date.parse("2026-01-02T00:00:00Z") })));
    await db.sql.begin((tx) => write(tx, person("old", "3000000002", { seq: 1, status: "ended", at: Date.parse("2026-01-01T00:00:00Z") })));
    await pruneSessionHistory(db.sql, new Date("2026-01-05T00:00:00Z"));
    const rows = await db.sql<{ driver_license_pd_id: string; session_seq: number }[]>`
      select driver_license_pd_id, session_seq from session_statuses where driver_license_pd_id in ('h', 'old') order by 1, 2`;
    expect(rows.map((r) => `${r.driver_license_pd_id}:${r.session_seq}`)).toEqual(["h:2", "old:1"]);
  });

  it("token - the stored token is reused until stale; a rejected one is replaced once", async () => {
    const store = postgresTokenStore(db.sql, { name: "contract" });
    let obtained = 0;
    const obtain = async () => ({ accessToken: `t${++obtained}`, expiresAt: Date.now() + 60_000 });
    expect((await store.replace(undefined, Date.now(), obtain)).accessToken).toBe("t1");
    expect((await store.replace(undefined, Date.now(), obtain)).accessToken).toBe("t1");
    expect((await store.replace("t1", Date.now(), obtain)).accessToken).toBe("t2");
    expect((await store.replace("t1", Date.now(), obtain)).accessToken).toBe("t2");
    expect((await store.replace(undefined, Date.now() + 120_000, obtain)).accessToken).toBe("t3");
    expect(obtained).toBe(3);
  });

  it("connectivity - each person's row follows his changes; the connected ones are listed with their KRT id and latest session", async () => {
    const connected = (id: string, value: boolean, at: number): DriverStatusRows => ({
      krtIds: [],
      sessions: [],
      connectivity: [{ driver_license_pd_id: id, connected: value, updated_at: new Date(at) }],
    });
    await db.sql.begin((tx) => write(tx, connected("c1", true, 1_000), connected("c2", true, 1_000), connected("c3", false, 1_000)));
    await db.sql.begin((tx) =>
      write(tx, person("c2", "1000000012", { seq: 1, status: "active", at: 2_000 }), person("c2", null, { seq: 2, status: "ended", at: 3_000 })),
    );
    await db.sql.begin((tx) => write(tx, connected("c1", false, 4_000), connected("c3", true, 4_000)));
    const rows = (await connectedDriverStatuses(db.sql)).filter((r) => r.driver_license_pd_id.startsWith("c"));
    expect(rows.sort((a, b) => a.driver_license_pd_id.localeCompare(b.driver_license_pd_id))).toEqual([
      { driver_license_pd_id: "c2", deptrans_id: "1000000012", session: { status: "ended", ended_at: new Date(63_000), updated_at: new Date(3_000) } },
      { driver_license_pd_id: "c3", deptrans_id: null, session: null },
    ]);
  });
});

describe("driver status storage on postgres, at scale", () => {
  it("projection - each row is checked by its key: a commit batch never scans the whole table", async () => {
    const db = await testDatabase("drvplan");
    try {
      await db.sql`insert into profiles (driver_license_pd_id, deptrans_id, updated_at)
        select 'pd-' || g, g::text, now() from generate_series(1, 20000) g`;
      await db.sql`insert into session_statuses (driver_license_pd_id, session_seq, session_status, updated_at)
        select 'pd-' || g, 1, 'active', now() from generate_series(1, 20000) g`;
      const batch = (round: number) =>
        Array.from({ length: 50 }, (_, i) => person(`pd-${round * 50 + i + 1}`, String(round * 50 + i + 1), { seq: 2, status: "paused", at: 5_000 }));
      // A prepared statement switches to its cached generic plan after a few runs: go well past that,
      // on one connection, and count the scans of each run (the counters are not flushed mid-transaction).
      const scans = await db.sql.reserve();
      const seqScans = async () =>
        (
          await scans<{ relname: string; seq_scan: string }[]>`
          select relname, seq_scan from pg_stat_xact_user_tables
          where schemaname = current_schema() and relname in ('profiles', 'session_statuses') order by relname`
        ).map((r) => Number(r.seq_scan));
      try {
        for (let round = 0; round < 12; round++) {
          await scans`begin`;
          const before = await seqScans();
          await write(scans, ...batch(round));
          const after = await seqScans();
          await scans`commit`;
          expect({ round, scanned: after.map((n, i) => n - before[i]!) }).toEqual({ round, scanned: [0, 0] });
        }
      } finally {
        scans.release();
      }
    } finally {
      await db.drop();
    }
  });
});
