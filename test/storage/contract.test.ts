// The storage contract, run against both backends: real Postgres and embedded PGlite.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbedded, type Database } from "../../storage/database.ts";
import { migrate } from "../../storage/migrate.ts";
import {
  claimOutbox,
  deleteOutbox,
  dueTimers,
  loadSnapshot,
  pruneJournal,
  raiseShardFence,
  readJournal,
  writeCommits,
  writeOutbox,
  type Commit,
  type Projections,
} from "../../storage/actorStore.ts";
import { claimIdempotencyKey, completeIdempotencyKey, expireIdempotencyClaim } from "../../storage/idempotencyStore.ts";
import { testDatabase } from "../support/harness.ts";

const commit = (over: Partial<Commit> = {}): Commit => ({
  type: "counter",
  id: "a",
  shard: 0,
  version: 1,
  epoch: 0,
  machineVersion: 1,
  seq: 1,
  snapshot: { value: "open", context: { count: 1 } },
  processedIds: ["m1"],
  rewriteProcessedIds: true,
  journal: [{ seq: 1, event: { type: "increment" }, fromState: null, toState: "open", at: 1_000 }],
  outbox: [],
  timersSet: [],
  timersCancelled: [],
  timersFired: [],
  at: 1_000,
  project: false,
  ...over,
});

const backends: [string, () => Promise<Database & { drop?: () => Promise<void> }>][] = [
  ["postgres", async () => testDatabase("contract")],
  ["pglite", async () => openEmbedded()],
];

describe.each(backends)("storage contract on %s", (_name, open) => {
  let db: Database & { drop?: () => Promise<void> };
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    if (db.drop) await db.drop();
    else await db.close();
  });

  it("migrations - are recorded and applied once, also when two run at the same time", async () => {
    const again = await Promise.all([migrate(db.sql), migrate(db.sql)]);
    expect(again).toEqual([[], []]);
    const names = (await db.sql<{ name: string }[]>`select name from schema_migrations order by name`).map((r) => r.name);
    expect(names[0]).toBe("001_actor_runtime.sql");
  });

  it("snapshots - the first write lands, a write with a stale version does not", async () => {
    const ok = await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "occ" })]));
    expect(ok.has("counter/occ")).toBe(true);
    const stale = await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "occ", snapshot: { lost: true } })]));
    expect(stale.size).toBe(0);
    const next = await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "occ", version: 2, seq: 2, journal: [] })]));
    expect(next.has("counter/occ")).toBe(true);
    expect((await loadSnapshot(db.sql, "counter", "occ"))!.version).toBe(2);
  });

  it("projections - written by the commits' statement, for the accepted commits only", async () => {
    await db.sql`create table projected_counts (id text primary key, count integer not null)`;
    await writeCommits(db.sql, [commit({ id: "projected-stale" })]);
    const counts: Projections = (accepted) => [
      db.sql`insert into projected_counts (id, count)
        select x.id, x.count from jsonb_to_recordset(${db.sql.json([
          { id: "projected-new", count: 1 },
          { id: "projected-stale", count: 1 },
        ])}::jsonb) as x(id text, count integer)
        where ${accepted("counter")(db.sql`x.id`)}`,
    ];
    const accepted = await writeCommits(db.sql, [commit({ id: "projected-new" }), commit({ id: "projected-stale" })], counts);
    expect([...accepted]).toEqual(["counter/projected-new"]);
    expect(await db.sql`select id, count from projected_counts`).toEqual([{ id: "projected-new", count: 1 }]);
  });

  it("snapshots - processed ids are appended by each commit, replaced by a rewrite, untouched by a stale write", async () => {
    const write = (version: number, processedIds: string[], rewriteProcessedIds: boolean) =>
      db.sql.begin((tx) => writeCommits(tx, [commit({ id: "ids", version, seq: version, journal: [], processedIds, rewriteProcessedIds })]));
    await write(1, ["m1"], true);
    await write(2, ["m2"], false);
    await write(3, ["m3", "m4"], false);
    expect(await write(3, ["lost"], false)).toEqual(new Set());
    expect(await loadSnapshot(db.sql, "counter", "ids")).toMatchObject({ processedIds: ["m1", "m2", "m3", "m4"], appendedIds: 3 });
    await write(4, ["m4", "m5"], true);
    await write(5, ["m6"], false);
    expect(await loadSnapshot(db.sql, "counter", "ids")).toMatchObject({ processedIds: ["m4", "m5", "m6"], appendedIds: 1 });
  });

  it("snapshots - a writer with an older epoch is fenced off", async () => {
    await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "fenced", epoch: 5 })]));
    const old = await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "fenced", version: 2, epoch: 4, journal: [] })]));
    expect(old.size).toBe(0);
    expect((await loadSnapshot(db.sql, "counter", "fenced"))!.epoch).toBe(5);
  });

  it("snapshots - once a shard's fence is raised, writes with an older epoch are rejected", async () => {
    await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "in-shard-7", shard: 7, epoch: 3 })]));
    await raiseShardFence(db.sql, 7, 10);
    await raiseShardFence(db.sql, 7, 9); // never lowered
    const old = await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "in-shard-7", shard: 7, epoch: 3, version: 2, journal: [] })]));
    expect(old.size).toBe(0);
    const fresh = await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "new-in-shard-7", shard: 7, epoch: 3 })]));
    expect(fresh.size).toBe(0);
    const owner = await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "in-shard-7", shard: 7, epoch: 10, version: 2, journal: [] })]));
    expect(owner.has("counter/in-shard-7")).toBe(true);
  });

  it("commits - journal, outbox and timers land only with an accepted snapshot", async () => {
    const extras = {
      outbox: [{ messageId: "out-1", kind: "tell" as const, target: "counter/b", payload: { type: "increment" } }],
      timersSet: [{ key: "t", dueAt: 5_000, event: { type: "reminded" } }],
    };
    await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "x", ...extras })]));
    const rejected = await db.sql.begin((tx) =>
      writeCommits(tx, [
        commit({ id: "x", outbox: [{ ...extras.outbox[0]!, messageId: "out-2" }], timersSet: [{ key: "u", dueAt: 1, event: { type: "u" } }] }),
      ]),
    );
    expect(rejected.size).toBe(0);
    expect((await db.sql`select message_id from actor_outbox where message_id like 'out-%'`).map((r) => r.message_id)).toEqual(["out-1"]);
    expect((await dueTimers(db.sql, 10_000, 10)).filter((t) => t.id === "x").map((t) => t.key)).toEqual(["t"]);
    expect((await readJournal(db.sql, "counter", "x")).length).toBe(1);
  });

  it("timers - a fired timer is consumed only if still due at that time; re-setting replaces it", async () => {
    await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "tm", timersSet: [{ key: "k", dueAt: 2_000, event: { type: "e" } }] })]));
    await db.sql.begin((tx) =>
      writeCommits(tx, [
        commit({ id: "tm", version: 2, journal: [], timersFired: [{ key: "k", dueAt: 2_000 }], timersSet: [{ key: "k", dueAt: 9_000, event: { type: "e" } }] }),
      ]),
    );
    const due = (await dueTimers(db.sql, 100_000, 100)).filter((t) => t.id === "tm");
    expect(due.map((t) => t.dueAt)).toEqual([9_000]);
    await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "tm", version: 3, journal: [], timersFired: [{ key: "k", dueAt: 2_000 }] })]));
    expect((await dueTimers(db.sql, 100_000, 100)).filter((t) => t.id === "tm")).toHaveLength(1);
  });

  it("timers - read by shard: those of the shards asked for, and rows from before timers had a shard", async () => {
    const timer = { key: "s", dueAt: 3_000, event: { type: "e" } };
    await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "sh-1", shard: 1, timersSet: [timer] }), commit({ id: "sh-2", shard: 2, timersSet: [timer] })]));
    await db.sql`insert into actor_timers (actor_type, actor_id, timer_key, due_at, event) values ('counter', 'sh-legacy', 's', ${new Date(3_000)}, ${db.sql.json({ type: "e" })})`;
    const ids = async (shards?: number[]) =>
      (await dueTimers(db.sql, 5_000, 100, shards))
        .map((t) => t.id)
        .filter((id) => id.startsWith("sh-"))
        .sort();
    expect(await ids([1])).toEqual(["sh-1", "sh-legacy"]);
    expect(await ids([2, 7])).toEqual(["sh-2", "sh-legacy"]);
    expect(await ids([])).toEqual(["sh-legacy"]);
    expect(await ids()).toEqual(["sh-1", "sh-2", "sh-legacy"]);
  });

  it("journal - retention drops the entries older than the cut and keeps the rest", async () => {
    const entry = (seq: number, at: number) => ({ seq, event: { type: "increment" }, fromState: "open", toState: "open", at });
    await db.sql.begin((tx) => writeCommits(tx, [commit({ id: "kept", journal: [entry(1, 5_000), entry(2, 50_000), entry(3, 90_000)] })]));
    await pruneJournal(db.sql, 50_000);
    expect((await readJournal(db.sql, "counter", "kept")).map((j) => j.seq)).toEqual([2, 3]);
  });

  it("outbox - written outside a commit: with the caller's transaction, a repeated message id skipped, read back as written", async () => {
    const event = { messageId: "w-1", kind: "event" as const, target: "fleet.events.customer.p1", payload: { type: "customer", seq: 1, changes: ["name"] } };
    await expect(
      db.sql.begin(async (tx) => {
        await writeOutbox(tx, [{ ...event, messageId: "w-rolled-back" }]);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    await db.sql.begin((tx) => writeOutbox(tx, [event, { ...event, messageId: "w-2", kind: "tell", target: "counter/b", payload: { type: "increment" } }]));
    await db.sql.begin((tx) => writeOutbox(tx, [{ ...event, payload: { replaced: true } }]));
    await writeOutbox(db.sql, []);
    const rows = await db.sql`select message_id, kind, target, payload from actor_outbox where message_id like 'w-%' order by id`;
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { message_id: "w-1", kind: "event", target: "fleet.events.customer.p1", payload: event.payload },
      { message_id: "w-2", kind: "tell", target: "counter/b", payload: { type: "increment" } },
    ]);
    await deleteOutbox(db.sql, ["w-1", "w-2"]);
  });

  it("outbox - a claim leases rows so a second relay does not take them, delete removes them", async () => {
    await writeOutbox(db.sql, [{ messageId: "lease-1", kind: "event", target: "fleet.events.x.1", payload: { a: 1 } }]);
    const first = await claimOutbox(db.sql, 0, 60_000, 100);
    expect(first.map((m) => m.messageId)).toContain("lease-1");
    expect((await claimOutbox(db.sql, 0, 60_000, 100)).map((m) => m.messageId)).not.toContain("lease-1");
    await deleteOutbox(
      db.sql,
      first.map((m) => m.messageId),
    );
    expect(await db.sql`select 1 from actor_outbox where message_id = 'lease-1'`).toHaveLength(0);
  });

  it("idempotency keys - first, in flight, replay and a different request are told apart", async () => {
    expect(await claimIdempotencyKey(db.sql, "s", "k", "h1", 60_000)).toEqual({ kind: "first" });
    expect(await claimIdempotencyKey(db.sql, "s", "k", "h1", 60_000)).toEqual({ kind: "in_flight" });
    await completeIdempotencyKey(db.sql, "s", "k", 202, { id: 1 });
    expect(await claimIdempotencyKey(db.sql, "s", "k", "h1", 60_000)).toEqual({ kind: "replay", status: 202, body: { id: 1 } });
    expect(await claimIdempotencyKey(db.sql, "s", "k", "h2", 60_000)).toEqual({ kind: "different_request" });
  });

  it("idempotency keys - a claim whose attempt crashed expires with its lease, and exactly one retry takes it over", async () => {
    expect(await claimIdempotencyKey(db.sql, "s", "crashed", "h1", 50)).toEqual({ kind: "first" });
    expect(await claimIdempotencyKey(db.sql, "s", "crashed", "h1", 60_000)).toEqual({ kind: "in_flight" });
    await new Promise((r) => setTimeout(r, 80));
    const retries = await Promise.all(Array.from({ length: 5 }, () => claimIdempotencyKey(db.sql, "s", "crashed", "h1", 60_000)));
    expect(retries.filter((c) => c.kind === "first")).toHaveLength(1);
    expect(retries.filter((c) => c.kind === "in_flight")).toHaveLength(4);
    // Another request under the expired key is still refused, never run.
    expect(await claimIdempotencyKey(db.sql, "s", "crashed", "h2", 60_000)).toEqual({ kind: "different_request" });
  });

  it("idempotency keys - a failed attempt (5xx) ends its claim: the retry runs at once, and the key is never deleted", async () => {
    expect(await claimIdempotencyKey(db.sql, "s", "failed", "h1", 60_000)).toEqual({ kind: "first" });
    await expireIdempotencyClaim(db.sql, "s", "failed");
    expect(await db.sql`select 1 from idempotency_keys where scope = 's' and key = 'failed'`).toHaveLength(1);
    expect(await claimIdempotencyKey(db.sql, "s", "failed", "h1", 60_000)).toEqual({ kind: "first" });
    await completeIdempotencyKey(db.sql, "s", "failed", 201, { id: 2 });
    await expireIdempotencyClaim(db.sql, "s", "failed"); // a late failure of an earlier attempt changes nothing
    expect(await claimIdempotencyKey(db.sql, "s", "failed", "h1", 60_000)).toEqual({ kind: "replay", status: 201, body: { id: 2 } });
  });
});
