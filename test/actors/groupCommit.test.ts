// Group commit with query projections on the real Postgres: the projections are CTEs of the batch's
// one statement, so a batch lands whole or not at all, and a stale commit projects nothing.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupCommit } from "../../actors/GroupCommit.ts";
import { loadSnapshot, writeCommits, type Commit, type Projections } from "../../storage/actorStore.ts";
import { isPermanentWriteError, type Sql } from "../../storage/database.ts";
import { DATABASE_URL, eventually, lockTable, testDatabase, type TestDatabase } from "../support/harness.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase("group_commit");
  // The view refuses counts of 1000 and more: a value no retry will ever store.
  await db.sql`create table counter_view (id text primary key, count integer not null check (count < 1000))`;
});
afterAll(async () => {
  await db.drop();
});

const commit = (id: string, count: number, over: Partial<Commit> = {}): Commit => ({
  type: "counter",
  id,
  shard: 0,
  version: 1,
  epoch: 0,
  machineVersion: 1,
  seq: 1,
  snapshot: { value: "open", context: { count } },
  processedIds: [`${id}-m${count}`],
  rewriteProcessedIds: true,
  journal: [{ seq: 1, event: { type: "increment", by: count }, fromState: null, toState: "open", at: 1_000 }],
  outbox: [{ messageId: `${id}-out-${count}`, kind: "event", target: `fleet.events.counter.${id}`, payload: { count } }],
  timersSet: [],
  timersCancelled: [],
  timersFired: [],
  at: 1_000,
  project: true,
  ...over,
});

/** The `counter_view` row of every commit, written for the accepted ones only. */
const counterView =
  (sql: Sql) =>
  (commits: readonly Commit[]): Projections =>
  (accepted) => [
    sql`insert into counter_view (id, count)
      select x.id, x.count from jsonb_to_recordset(${sql.json(commits.map((c) => ({ id: c.id, count: (c.snapshot as { context: { count: number } }).context.count })))}::jsonb)
        as x(id text, count integer)
      where ${accepted("counter")(sql`x.id`)}
      on conflict (id) do update set count = excluded.count`,
  ];

/** Everything a commit of `id` leaves: its snapshot's count, its journal, its outbox messages, its view row. */
async function leftBy(id: string) {
  return {
    count: ((await loadSnapshot(db.sql, "counter", id))?.snapshot as { context: { count: number } } | undefined)?.context.count,
    journal: (await db.sql`select seq from actor_journal where actor_type = 'counter' and actor_id = ${id}`).length,
    outbox: (await db.sql<{ message_id: string }[]>`select message_id from actor_outbox where message_id like ${`${id}-out-%`}`).map((r) => r.message_id),
    view: (await db.sql<{ count: number }[]>`select count from counter_view where id = ${id}`).map((r) => r.count),
  };
}

describe("group commit with projections", () => {
  it("a tick's commits beyond the batch size leave as several statements of at most that many; every one lands", async () => {
    const batches: number[] = [];
    const group = new GroupCommit(db.sql, { maxBatch: 3, onBatch: (size) => void batches.push(size) });
    const ids = Array.from({ length: 7 }, (_, i) => `split-${i}`);
    expect(await Promise.all(ids.map((id, i) => group.submit(commit(id, i))))).toEqual(ids.map(() => true));
    expect(batches.sort()).toEqual([1, 3, 3]);
    for (const [i, id] of ids.entries()) expect(await leftBy(id)).toMatchObject({ count: i, journal: 1, outbox: [`${id}-out-${i}`] });
  });

  it("a commit that loses its version race leaves nothing, its projection neither; the others of its batch land with theirs", async () => {
    await writeCommits(db.sql, [commit("raced", 1, { project: false })]); // another instance got there first
    const group = new GroupCommit(db.sql, { projections: counterView(db.sql) });
    // Submitted in one tick: one batch, one statement.
    const results = await Promise.all([
      group.submit(commit("won-1", 10)),
      group.submit(commit("raced", 50)), // expects no row yet: stale
      group.submit(commit("won-2", 20)),
    ]);
    expect(results).toEqual([true, false, true]);
    expect(await leftBy("won-1")).toEqual({ count: 10, journal: 1, outbox: ["won-1-out-10"], view: [10] });
    expect(await leftBy("won-2")).toEqual({ count: 20, journal: 1, outbox: ["won-2-out-20"], view: [20] });
    expect(await leftBy("raced")).toEqual({ count: 1, journal: 1, outbox: ["raced-out-1"], view: [] });
  });

  it("a projection row Postgres refuses fails the whole batch, which is then written one by one: only its commit is rejected", async () => {
    const group = new GroupCommit(db.sql, { projections: counterView(db.sql) });
    const results = await Promise.allSettled([
      group.submit(commit("refused-neighbour-1", 1)),
      group.submit(commit("refused", 5000)),
      group.submit(commit("refused-neighbour-2", 2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(((results[1] as PromiseRejectedResult).reason as { code: string }).code).toBe("23514");
    expect(await leftBy("refused")).toEqual({ count: undefined, journal: 0, outbox: [], view: [] });
    expect(await leftBy("refused-neighbour-1")).toEqual({ count: 1, journal: 1, outbox: ["refused-neighbour-1-out-1"], view: [1] });
  });

  it("a commit JSON cannot hold (a BigInt in its snapshot) is refused alone as a permanent write error; its batch lands", async () => {
    const group = new GroupCommit(db.sql, { projections: counterView(db.sql) });
    const results = await Promise.allSettled([
      group.submit(commit("unwritable-neighbour", 3)),
      group.submit(commit("unwritable", 4, { snapshot: { value: "open", context: { count: 4, big: 2n ** 64n } } })),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    const reason = (results[1] as PromiseRejectedResult).reason;
    expect(isPermanentWriteError(reason)).toBe(true);
    expect(String(reason)).toContain("counter/unwritable: version 1 cannot be written as JSON");
    expect(await leftBy("unwritable")).toEqual({ count: undefined, journal: 0, outbox: [], view: [] });
    expect(await leftBy("unwritable-neighbour")).toEqual({ count: 3, journal: 1, outbox: ["unwritable-neighbour-out-3"], view: [3] });
  });

  it("a projection statement that fails otherwise rejects every commit of its batch, and nothing of the batch is written", async () => {
    const group = new GroupCommit(db.sql, { projections: () => () => [db.sql`insert into no_such_view (id) values ('x')`] });
    const results = await Promise.allSettled([group.submit(commit("broken-1", 1)), group.submit(commit("broken-2", 2))]);
    expect(results.map((r) => r.status === "rejected" && (r.reason as { code: string }).code)).toEqual(["42P01", "42P01"]);
    expect(await leftBy("broken-1")).toEqual({ count: undefined, journal: 0, outbox: [], view: [] });
    expect(await leftBy("broken-2")).toEqual({ count: undefined, journal: 0, outbox: [], view: [] });
  });

  it("a connection that dies while the batch's statement runs leaves nothing half-written; the pool goes on", async () => {
    const dying = postgres(DATABASE_URL, { max: 1, onnotice: () => {}, connection: { search_path: db.schema, application_name: `${db.schema}-dying` } });
    const locker = await db.reopen();
    const lock = await lockTable(locker.sql, "counter_view");
    try {
      const group = new GroupCommit(dying, { projections: counterView(dying) });
      const committing = group.submit(commit("died", 7));
      // The statement waits for the view's lock, whatever of the snapshot, journal and outbox it has written so far.
      const pid = await eventually(async () => {
        const [row] = await db.sql<{ pid: number }[]>`select pid from pg_stat_activity
          where application_name = ${`${db.schema}-dying`} and wait_event_type = 'Lock'`;
        return row?.pid;
      });
      await db.sql`select pg_terminate_backend(${pid})`;
      await expect(committing).rejects.toMatchObject({ code: expect.stringMatching(/^(57P01|CONNECTION_CLOSED|ECONNRESET)$/) });
      await lock.release();
      expect(await leftBy("died")).toEqual({ count: undefined, journal: 0, outbox: [], view: [] });
      // postgres.js 3.4.9 hands the killed backend's error (57P01) to the first query on its slot's
      // new connection, unsent: a caller's retry then lands.
      const after = commit("after-death", 8);
      expect(await group.submit(after).catch(() => group.submit(after))).toBe(true);
      expect(await leftBy("after-death")).toEqual({ count: 8, journal: 1, outbox: ["after-death-out-8"], view: [8] });
    } finally {
      await lock.release();
      await dying.end({ timeout: 5 });
    }
  });

  it("a batch with projections is one statement: no BEGIN, no projection statement of its own, no COMMIT", async () => {
    const statements: string[] = [];
    const counted = postgres(DATABASE_URL, {
      max: 1,
      onnotice: () => {},
      connection: { search_path: db.schema },
      debug: (_connection, query) => void statements.push(query),
    });
    try {
      const group = new GroupCommit(counted, { projections: counterView(counted) });
      await counted`select 1`; // connected (and the array types fetched) before counting
      statements.length = 0;
      expect(await Promise.all([group.submit(commit("counted-1", 1)), group.submit(commit("counted-2", 2))])).toEqual([true, true]);
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatch(/insert into actor_snapshots[\s\S]*"projection_0" as \(\s*insert into counter_view/);
      expect(await leftBy("counted-2")).toMatchObject({ view: [2] });
    } finally {
      await counted.end({ timeout: 5 });
    }
  });
});
