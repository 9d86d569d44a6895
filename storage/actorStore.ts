// SQL of the actor runtime: snapshots with optimistic concurrency, journal, durable timers, outbox.
// Every function takes the sql/transaction first, so callers compose transactions.
// jsonb values are passed as plain values: postgres.js serialises them by the column's type.
import type { JSONValue } from "postgres";
import type { Queryable, Tx } from "./database.ts";

export interface StoredSnapshot {
  version: number;
  epoch: number;
  machineVersion: number;
  seq: number;
  snapshot: unknown;
  processedIds: string[];
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
  processedIds: string[];
  journal: JournalEntry[];
  outbox: OutboxMessage[];
  timersSet: TimerWrite[];
  timersCancelled: string[];
  /** Timers whose firing this commit consumed: deleted only if still due at that time. */
  timersFired: { key: string; dueAt: number }[];
  /** Runtime time of the commit (epoch ms). */
  at: number;
}

export async function loadSnapshot(sql: Queryable, type: string, id: string): Promise<StoredSnapshot | undefined> {
  const [row] = await sql<
    { version: string; epoch: string; machine_version: number; seq: string; snapshot: unknown; processed_ids: string[] }[]
  >`select version, epoch, machine_version, seq, snapshot, processed_ids
      from actor_snapshots where actor_type = ${type} and actor_id = ${id}`;
  if (!row) return undefined;
  return {
    version: Number(row.version),
    epoch: Number(row.epoch),
    machineVersion: row.machine_version,
    seq: Number(row.seq),
    snapshot: row.snapshot,
    processedIds: row.processed_ids,
  };
}

const key = (type: string, id: string) => `${type}/${id}`;

/**
 * Writes many actors' commits in the caller's transaction: one multi-row upsert for the
 * snapshots, then journal, outbox and timers of the accepted ones only.
 * Returns the `type/id` keys that were accepted; the others were stale (version or epoch).
 */
export async function writeCommits(tx: Tx, allCommits: readonly Commit[]): Promise<Set<string>> {
  const commits = await unfenced(tx, allCommits);
  if (commits.length === 0) return new Set();
  const rows = commits.map((c) => ({
    actor_type: c.type,
    actor_id: c.id,
    version: c.version,
    epoch: c.epoch,
    machine_version: c.machineVersion,
    seq: c.seq,
    snapshot: c.snapshot as JSONValue,
    processed_ids: c.processedIds,
  }));
  const accepted = await tx<{ actor_type: string; actor_id: string }[]>`
    insert into actor_snapshots ${tx(rows)}
    on conflict (actor_type, actor_id) do update set
      version = excluded.version, epoch = excluded.epoch, machine_version = excluded.machine_version,
      seq = excluded.seq, snapshot = excluded.snapshot, processed_ids = excluded.processed_ids,
      updated_at = now()
    where actor_snapshots.version = excluded.version - 1
      and actor_snapshots.epoch <= excluded.epoch
    returning actor_type, actor_id`;
  const ok = new Set(accepted.map((r) => key(r.actor_type, r.actor_id)));
  const winners = commits.filter((c) => ok.has(key(c.type, c.id)));

  const journal = winners.flatMap((c) =>
    c.journal.map((j) => ({
      actor_type: c.type,
      actor_id: c.id,
      seq: j.seq,
      event: j.event as JSONValue,
      from_state: (j.fromState ?? null) as JSONValue,
      to_state: j.toState as JSONValue,
      at: new Date(j.at),
    })),
  );
  if (journal.length) await tx`insert into actor_journal ${tx(journal)} on conflict do nothing`;

  const outbox = winners.flatMap((c) =>
    c.outbox.map((o) => ({ message_id: o.messageId, kind: o.kind, target: o.target, payload: o.payload as JSONValue })),
  );
  if (outbox.length) await tx`insert into actor_outbox ${tx(outbox)} on conflict (message_id) do nothing`;

  const fired = winners.flatMap((c) => c.timersFired.map((t) => ({ type: c.type, id: c.id, key: t.key, due: new Date(t.dueAt).toISOString() })));
  if (fired.length) {
    await tx`delete from actor_timers t
      using unnest(${fired.map((f) => f.type)}::text[], ${fired.map((f) => f.id)}::text[],
                   ${fired.map((f) => f.key)}::text[], ${fired.map((f) => f.due)}::text[]::timestamptz[]) as d(actor_type, actor_id, timer_key, due_at)
      where t.actor_type = d.actor_type and t.actor_id = d.actor_id and t.timer_key = d.timer_key and t.due_at = d.due_at`;
  }
  const cancelled = winners.flatMap((c) => c.timersCancelled.map((k) => ({ type: c.type, id: c.id, key: k })));
  if (cancelled.length) {
    await tx`delete from actor_timers t
      using unnest(${cancelled.map((f) => f.type)}::text[], ${cancelled.map((f) => f.id)}::text[],
                   ${cancelled.map((f) => f.key)}::text[]) as d(actor_type, actor_id, timer_key)
      where t.actor_type = d.actor_type and t.actor_id = d.actor_id and t.timer_key = d.timer_key`;
  }
  const timers = winners.flatMap((c) =>
    c.timersSet.map((t) => ({ actor_type: c.type, actor_id: c.id, timer_key: t.key, due_at: new Date(t.dueAt), event: t.event as JSONValue })),
  );
  if (timers.length) {
    await tx`insert into actor_timers ${tx(timers)}
      on conflict (actor_type, actor_id, timer_key) do update set due_at = excluded.due_at, event = excluded.event`;
  }
  return ok;
}

/**
 * Drops commits whose epoch is older than their shard's fence. `for share` makes a new owner's
 * fence raise wait for this transaction, so it then loads what was committed here.
 */
async function unfenced(tx: Tx, commits: readonly Commit[]): Promise<readonly Commit[]> {
  const shards = [...new Set(commits.map((c) => c.shard))];
  const fences = await tx<{ shard: number; epoch: string }[]>`
    select shard, epoch from shard_fences where shard in ${tx(shards)} for share`;
  if (fences.length === 0) return commits;
  const fence = new Map(fences.map((f) => [f.shard, Number(f.epoch)]));
  return commits.filter((c) => c.epoch >= (fence.get(c.shard) ?? 0));
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

export async function dueTimers(sql: Queryable, now: number, limit: number): Promise<DueTimer[]> {
  const rows = await sql<{ actor_type: string; actor_id: string; timer_key: string; due_at: Date; event: DueTimer["event"] }[]>`
    select actor_type, actor_id, timer_key, due_at, event from actor_timers
    where due_at <= ${new Date(now)} order by due_at limit ${limit}`;
  return rows.map((r) => ({ type: r.actor_type, id: r.actor_id, key: r.timer_key, dueAt: r.due_at.getTime(), event: r.event }));
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

export async function deleteOutbox(sql: Queryable, messageIds: readonly string[]): Promise<void> {
  if (messageIds.length) await sql`delete from actor_outbox where message_id in ${sql(messageIds as string[])}`;
}

export async function readJournal(sql: Queryable, type: string, id: string, limit = 100): Promise<JournalEntry[]> {
  const rows = await sql<{ seq: string; event: unknown; from_state: unknown; to_state: unknown; at: Date }[]>`
    select seq, event, from_state, to_state, at from actor_journal
    where actor_type = ${type} and actor_id = ${id} order by seq desc limit ${limit}`;
  return rows.reverse().map((r) => ({ seq: Number(r.seq), event: r.event, fromState: r.from_state, toState: r.to_state, at: r.at.getTime() }));
}

/** Bounded retention: drops journal rows older than `before`. */
export async function pruneJournal(sql: Queryable, before: number): Promise<number> {
  const result = await sql`delete from actor_journal where at < ${new Date(before)}`;
  return result.count;
}
