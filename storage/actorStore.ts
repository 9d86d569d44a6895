// SQL of the actor runtime: snapshots with optimistic concurrency, journal, durable timers, outbox.
// Every function takes the sql/transaction first, so callers compose transactions.
// jsonb values are passed as plain values (postgres.js serialises them by the column's type), except the
// group commit's rows, serialised once as they are submitted and sent as one text parameter (prepareCommit).
import type { Fragment, JSONValue } from "postgres";
import type { Queryable } from "./database.ts";

export interface StoredSnapshot {
  version: number;
  epoch: number;
  machineVersion: number;
  seq: number;
  snapshot: unknown;
  /** The remembered message ids, oldest first: the last rewritten window, then the ids appended since. */
  processedIds: string[];
  /** How many of `processedIds` were appended since the window was last rewritten. */
  appendedIds: number;
}

export interface JournalEntry {
  seq: number;
  event: unknown;
  fromState: unknown;
  toState: unknown;
  at: number;
}

export interface OutboxMessage {
  messageId: string;
  kind: "tell" | "event";
  target: string;
  payload: unknown;
}

export interface TimerWrite {
  key: string;
  dueAt: number;
  event: unknown;
}

/** One actor's turn(s) to commit: the snapshot and everything that must land with it. */
export interface Commit {
  type: string;
  id: string;
  /** Cluster shard of the address (0 in embedded mode); its fence epoch must not exceed `epoch`. */
  shard: number;
  /** The new version; the row must currently hold `version - 1` (0: no row yet). */
  version: number;
  epoch: number;
  machineVersion: number;
  seq: number;
  snapshot: unknown;
  /**
   * The ids of the messages this commit processed, appended to the stored ones; with
   * `rewriteProcessedIds`, the actor's whole remembered window instead, replacing them.
   */
  processedIds: string[];
  rewriteProcessedIds: boolean;
  journal: JournalEntry[];
  outbox: OutboxMessage[];
  timersSet: TimerWrite[];
  timersCancelled: string[];
  /** Timers whose firing this commit consumed: deleted only if still due at that time. */
  timersFired: { key: string; dueAt: number }[];
  /** Runtime time of the commit (epoch ms). */
  at: number;
  /** The kind's query projections must follow this commit (in the same statement). */
  project: boolean;
}

export async function loadSnapshot(sql: Queryable, type: string, id: string): Promise<StoredSnapshot | undefined> {
  const [row] = await sql<
    {
      version: string;
      epoch: string;
      machine_version: number;
      seq: string;
      snapshot: unknown;
      processed_ids: string[];
      processed_appended: string[];
    }[]
  >`select version, epoch, machine_version, seq, snapshot, processed_ids, processed_appended
      from actor_snapshots where actor_type = ${type} and actor_id = ${id}`;
  if (!row) return undefined;
  return {
    version: Number(row.version),
    epoch: Number(row.epoch),
    machineVersion: row.machine_version,
    seq: Number(row.seq),
    snapshot: row.snapshot,
    processedIds: [...row.processed_ids, ...row.processed_appended],
    appendedIds: row.processed_appended.length,
  };
}

const key = (type: string, id: string) => `${type}/${id}`;
const iso = (ms: number) => new Date(ms).toISOString();

/** The condition, in SQL, that the actor whose id is the expression `id` had its commit accepted. */
export type Accepted = (id: Fragment) => Fragment;

/**
 * The query projections of a batch: data-modifying statements (insert, update or delete, without a
 * `with` of their own), each run as a CTE of the commit's statement, so they land with the
 * snapshots or not at all. Each writes only the rows of actors `accepted(type)` admits (a stale
 * commit projects nothing) and sees the tables as they were before the statement.
 */
export type Projections = (accepted: (type: string) => Accepted) => readonly Fragment[];

/** A commit with its row already serialised (see `prepareCommit`). */
export interface PreparedCommit {
  readonly commit: Commit;
  /** The commit as a JSON row of the statement's input (see `writePreparedCommits`). */
  readonly row: string;
}

/**
 * Serialises a commit's row, once, as the commit is submitted: the batch then goes as the rows
 * joined. One `JSON.stringify` of a whole batch (a ~100 KB string, built by growing and copying)
 * cost more per row, and ran when the batch left, on the way of every commit in it (bench/README.md, stop 36).
 */
export function prepareCommit(c: Commit): PreparedCommit {
  const setKeys = new Set(c.timersSet.map((t) => t.key));
  const row = {
    actor_type: c.type,
    actor_id: c.id,
    shard: c.shard,
    version: c.version,
    epoch: c.epoch,
    machine_version: c.machineVersion,
    seq: c.seq,
    snapshot: c.snapshot,
    processed_ids: c.rewriteProcessedIds ? c.processedIds : [],
    processed_appended: c.rewriteProcessedIds ? [] : c.processedIds,
    processed_rewritten_at: c.rewriteProcessedIds ? c.version : 0,
    journal: c.journal.map((j) => ({ seq: j.seq, event: j.event, from_state: j.fromState ?? null, to_state: j.toState, at: iso(j.at) })),
    outbox: c.outbox.map(outboxRow),
    timers_set: c.timersSet.map((t) => ({ timer_key: t.key, due_at: iso(t.dueAt), event: t.event })),
    // A key set again in this commit is simply overwritten: one statement must not touch a row twice.
    timers_cancelled: c.timersCancelled.filter((k) => !setKeys.has(k)),
    timers_fired: c.timersFired.filter((t) => !setKeys.has(t.key)).map((t) => ({ timer_key: t.key, due_at: iso(t.dueAt) })),
  };
  try {
    return { commit: c, row: JSON.stringify(row) };
  } catch (error) {
    throw new UnwritableCommitError(c, error);
  }
}

/**
 * A commit JSON cannot hold (a BigInt, a cycle in a snapshot or event): no retry will write it, so
 * it carries the SQLSTATE of an invalid value and is refused as one Postgres refuses
 * (`isPermanentWriteError`): the actor rolls back instead of retrying forever.
 */
export class UnwritableCommitError extends Error {
  readonly code = "22023";
  constructor(c: Commit, cause: unknown) {
    super(`${c.type}/${c.id}: version ${c.version} cannot be written as JSON: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "UnwritableCommitError";
  }
}

/** `writePreparedCommits` of commits serialised now. */
export const writeCommits = (sql: Queryable, commits: readonly Commit[], projections?: Projections): Promise<Set<string>> =>
  writePreparedCommits(sql, commits.map(prepareCommit), projections);

/**
 * Writes many actors' commits in ONE statement (one round trip, its own implicit transaction): the
 * snapshots as a multi-row upsert with the version and epoch checks, and — for the accepted rows
 * only — their journal, outbox and timer changes and their kinds' `projections`, in data-modifying CTEs.
 * Returns the `type/id` keys that were accepted; the others were stale (version, epoch or fence).
 */
export async function writePreparedCommits(sql: Queryable, commits: readonly PreparedCommit[], projections?: Projections): Promise<Set<string>> {
  if (commits.length === 0) return new Set();
  const projected = projections?.((type) => (id) => sql`${id} in (select actor_id from snap where actor_type = ${type})`) ?? [];
  // The rows as one parameter, sent as text: typed jsonb, postgres.js would serialise the string again.
  const input = `[${commits.map((c) => c.row).join(",")}]`;
  const accepted = await sql<{ actor_type: string; actor_id: string }[]>`
    with input as (
      select * from jsonb_to_recordset(${input}::text::jsonb) as x(
        actor_type text, actor_id text, shard integer, version bigint, epoch bigint, machine_version integer,
        seq bigint, snapshot jsonb, processed_ids jsonb, processed_appended jsonb, processed_rewritten_at bigint, journal jsonb, outbox jsonb, timers_set jsonb,
        timers_cancelled jsonb, timers_fired jsonb)
    ),
    -- "for share": a new owner raising a fence waits for this write, then loads what it wrote.
    fences as (select shard, epoch from shard_fences where shard in (select shard from input) for share),
    unfenced as (select i.* from input i left join fences f on f.shard = i.shard where i.epoch >= coalesce(f.epoch, 0)),
    snap as (
      insert into actor_snapshots (actor_type, actor_id, version, epoch, machine_version, seq, snapshot,
        processed_ids, processed_appended, processed_rewritten_at)
      select actor_type, actor_id, version, epoch, machine_version, seq, snapshot,
        processed_ids, processed_appended, processed_rewritten_at from unfenced
      on conflict (actor_type, actor_id) do update set
        version = excluded.version, epoch = excluded.epoch, machine_version = excluded.machine_version,
        seq = excluded.seq, snapshot = excluded.snapshot, updated_at = now(),
        -- A commit that does not rewrite the window leaves processed_ids as it is (a toasted value
        -- keeps its place, neither read nor copied) and appends its ids to the short processed_appended.
        processed_ids = case when excluded.processed_rewritten_at = excluded.version
          then excluded.processed_ids else actor_snapshots.processed_ids end,
        processed_appended = case when excluded.processed_rewritten_at = excluded.version
          then excluded.processed_appended else actor_snapshots.processed_appended || excluded.processed_appended end,
        processed_rewritten_at = case when excluded.processed_rewritten_at = excluded.version
          then excluded.processed_rewritten_at else actor_snapshots.processed_rewritten_at end
      where actor_snapshots.version = excluded.version - 1 and actor_snapshots.epoch <= excluded.epoch
      returning actor_type, actor_id
    ),
    won as (select u.* from unfenced u join snap s using (actor_type, actor_id)),
    journal as (
      insert into actor_journal (actor_type, actor_id, seq, event, from_state, to_state, at)
      select w.actor_type, w.actor_id, j.seq, j.event, j.from_state, j.to_state, j.at
      from won w cross join jsonb_to_recordset(w.journal) as j(seq bigint, event jsonb, from_state jsonb, to_state jsonb, at timestamptz)
      on conflict do nothing
    ),
    outbox as (${insertOutbox(sql, sql`w.outbox`, sql`won w`)}),
    fired as (
      delete from actor_timers t using won w cross join jsonb_to_recordset(w.timers_fired) as d(timer_key text, due_at timestamptz)
      where t.actor_type = w.actor_type and t.actor_id = w.actor_id and t.timer_key = d.timer_key and t.due_at = d.due_at
    ),
    cancelled as (
      delete from actor_timers t using won w cross join jsonb_array_elements_text(w.timers_cancelled) as d(timer_key)
      where t.actor_type = w.actor_type and t.actor_id = w.actor_id and t.timer_key = d.timer_key
    ),
    timers as (
      insert into actor_timers (actor_type, actor_id, timer_key, due_at, event, shard)
      select w.actor_type, w.actor_id, t.timer_key, t.due_at, t.event, w.shard
      from won w cross join jsonb_to_recordset(w.timers_set) as t(timer_key text, due_at timestamptz, event jsonb)
      on conflict (actor_type, actor_id, timer_key) do update set due_at = excluded.due_at, event = excluded.event, shard = excluded.shard
    )
    ${projected.length ? projected.map((statement, i) => sql`, ${sql(`projection_${i}`)} as (${statement})`) : sql``}
    select actor_type, actor_id from snap`;
  return new Set(accepted.map((r) => key(r.actor_type, r.actor_id)));
}

/** An outbox message as a row of the jsonb array `insertOutbox` reads. */
const outboxRow = (o: OutboxMessage) => ({ message_id: o.messageId, kind: o.kind, target: o.target, payload: o.payload });

/**
 * The one writer of `actor_outbox`: inserts the messages of the jsonb array `messages` (rows of
 * `outboxRow`), evaluated per row of `from` when given; a message id already there is skipped.
 * Returns the inserted messages (`StoredOutboxRow`), for a data-modifying CTE to hand back.
 */
export function insertOutbox(sql: Queryable, messages: Fragment, from?: Fragment): Fragment {
  return sql`insert into actor_outbox (message_id, kind, target, payload)
      select o.message_id, o.kind, o.target, o.payload
      from ${from ? sql`${from} cross join` : sql``} jsonb_to_recordset(${messages}) as o(message_id text, kind text, target text, payload jsonb)
      on conflict (message_id) do nothing
      returning message_id, kind, target, payload`;
}

/** An outbox row as `insertOutbox` returns it. */
export interface StoredOutboxRow {
  message_id: string;
  kind: OutboxMessage["kind"];
  target: string;
  payload: unknown;
}

export const outboxMessageOf = (r: StoredOutboxRow): OutboxMessage => ({ messageId: r.message_id, kind: r.kind, target: r.target, payload: r.payload });

/**
 * Writes messages to the outbox in the caller's transaction, as a commit does: the relay delivers
 * them after commit (or whoever holds them calls `outbox.dispatch`). For writes outside actors.
 * @example await sql.begin(async (tx) => { await writeRows(tx); await writeOutbox(tx, messages) })
 */
export async function writeOutbox(sql: Queryable, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await insertOutbox(sql, sql`${sql.json(messages.map(outboxRow) as unknown as JSONValue)}::jsonb`);
}

/** A new owner raises the shard's fence before serving it; never lowers it. */
export async function raiseShardFence(sql: Queryable, shard: number, epoch: number): Promise<void> {
  await sql`insert into shard_fences (shard, epoch) values (${shard}, ${epoch})
    on conflict (shard) do update set epoch = greatest(shard_fences.epoch, excluded.epoch)`;
}

export interface DueTimer {
  type: string;
  id: string;
  key: string;
  dueAt: number;
  event: { type: string; [k: string]: unknown };
}

/**
 * The earliest timers due at `now`; with `shards`, only those of these shards (and rows from before
 * timers had a shard, which the caller filters itself).
 */
export async function dueTimers(sql: Queryable, now: number, limit: number, shards?: readonly number[]): Promise<DueTimer[]> {
  const rows = await sql<{ actor_type: string; actor_id: string; timer_key: string; due_at: Date; event: DueTimer["event"] }[]>`
    select actor_type, actor_id, timer_key, due_at, event from actor_timers
    where due_at <= ${new Date(now)} ${shards ? sql`and (shard = any(${sql.array(shards as number[])}::int[]) or shard is null)` : sql``}
    order by due_at limit ${limit}`;
  return rows.map((r) => ({ type: r.actor_type, id: r.actor_id, key: r.timer_key, dueAt: r.due_at.getTime(), event: r.event }));
}

/**
 * Makes the timers named `key` due at `now` (with `shards`, only those of these shards, and rows
 * from before timers had a shard): a host starting or taking shards over fires them at once.
 */
export async function advanceTimers(sql: Queryable, key: string, now: number, shards?: readonly number[]): Promise<void> {
  await sql`update actor_timers set due_at = ${new Date(now)}
    where timer_key = ${key} and due_at > ${new Date(now)} ${shards ? sql`and (shard = any(${sql.array(shards as number[])}::int[]) or shard is null)` : sql``}`;
}

export interface ClaimedOutbox extends OutboxMessage {
  id: number;
}

/**
 * Claims undelivered outbox messages older than `olderThanMs` for `leaseMs`, so that several
 * relays (instances) do not all deliver the same rows at once.
 */
export async function claimOutbox(sql: Queryable, olderThanMs: number, leaseMs: number, limit: number): Promise<ClaimedOutbox[]> {
  const rows = await sql<{ id: string; message_id: string; kind: "tell" | "event"; target: string; payload: unknown }[]>`
    update actor_outbox set claimed_until = now() + ${leaseMs} * interval '1 millisecond'
    where id in (
      select id from actor_outbox
      where claimed_until <= now() and created_at <= now() - ${olderThanMs} * interval '1 millisecond'
      order by id limit ${limit} for update skip locked)
    returning id, message_id, kind, target, payload`;
  return rows.map((r) => ({ id: Number(r.id), messageId: r.message_id, kind: r.kind, target: r.target, payload: r.payload }));
}

/** One statement text whatever the count (`in (...)` would prepare a new statement per list length). */
export async function deleteOutbox(sql: Queryable, messageIds: readonly string[]): Promise<void> {
  if (messageIds.length) await sql`delete from actor_outbox where message_id = any(${sql.array(messageIds as string[])}::text[])`;
}

export async function readJournal(sql: Queryable, type: string, id: string, limit = 100): Promise<JournalEntry[]> {
  const rows = await sql<{ seq: string; event: unknown; from_state: unknown; to_state: unknown; at: Date }[]>`
    select seq, event, from_state, to_state, at from actor_journal
    where actor_type = ${type} and actor_id = ${id} order by seq desc limit ${limit}`;
  return rows.reverse().map((r) => ({ seq: Number(r.seq), event: r.event, fromState: r.from_state, toState: r.to_state, at: r.at.getTime() }));
}

/** Ids of stored actors of `type` starting with `prefix`, in id order (the inspector's search). */
export async function listStoredActors(sql: Queryable, type: string, prefix: string, limit: number): Promise<{ id: string; updatedAt: number }[]> {
  const rows = await sql<{ actor_id: string; updated_at: Date }[]>`
    select actor_id, updated_at from actor_snapshots
    where actor_type = ${type} and starts_with(actor_id, ${prefix})
    order by actor_id limit ${limit}`;
  return rows.map((r) => ({ id: r.actor_id, updatedAt: r.updated_at.getTime() }));
}

/** Bounded retention: drops journal rows older than `before`. */
export async function pruneJournal(sql: Queryable, before: number): Promise<number> {
  const result = await sql`delete from actor_journal where at < ${new Date(before)}`;
  return result.count;
}
