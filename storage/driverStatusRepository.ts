// Driver statuses' query tables (seed 003): `profiles` (KRT ids) and `session_statuses` (KRT
// session history), written from the krt-session actors in the same statement as their
// snapshots (the service maps its actors to these rows), and read by the driver routes and the
// incremental internal feeds; and `krt_tokens`, the KRT access token every instance shares (and the claim of its refresh).
//
// Incremental feeds and writers that commit out of order: a sequence number alone is not a safe
// cursor, because numbers are taken when a row is written, not when its transaction commits; a
// reader could hand out cursor 10 while the transaction holding 9 is still open, and then never
// see 9. So every row also records its transaction id (`change_xid`, xid8, which never wraps),
// and a feed returns only rows whose transaction id is below the oldest transaction still running
// (`pg_snapshot_xmin(pg_current_snapshot())`): all those transactions have ended, so no row can
// appear later below the cursor. Rows of transactions still open wait for the next poll. The
// cost is lag, not loss: the feed trails the oldest open transaction (ours are short group commits).
import type { Accepted } from "./actorStore.ts";
import { statementFor, type Fragment, type Queryable } from "./database.ts";

/** Position in a feed: the transaction id and sequence number of the last row returned. */
export interface FeedCursor {
  xid: string;
  seq: string;
}

export const startOfFeed: FeedCursor = { xid: "0", seq: "0" };

export interface ProfileChange {
  driver_license_pd_id: string;
  has_id: boolean;
  updated_at: Date;
  cursor: FeedCursor;
}

export interface SessionChange {
  driver_license_pd_id: string;
  session_status: string;
  ended_at: Date | null;
  updated_at: Date;
  cursor: FeedCursor;
}

export interface DriverStatusRow {
  deptrans_id: string | null;
  session: { status: string; ended_at: Date | null; updated_at: Date } | null;
}

/** A person's KRT id: a `profiles` row. */
export interface KrtIdRow {
  driver_license_pd_id: string;
  deptrans_id: string;
  updated_at: Date;
}

/** One change of a person's KRT session (status or end), numbered per person: a `session_statuses` row. */
export interface SessionStatusRow {
  driver_license_pd_id: string;
  session_seq: number;
  session_status: string;
  updated_at: Date;
  ended_at: Date | null;
}

/** Whether a person is connected to order dispatch: a `krt_connectivity` row. */
export interface ConnectivityRow {
  driver_license_pd_id: string;
  connected: boolean;
  updated_at: Date;
}

/** What one commit batch of session actors projects. */
export interface DriverStatusRows {
  readonly krtIds: readonly KrtIdRow[];
  readonly sessions: readonly SessionStatusRow[];
  readonly connectivity: readonly ConnectivityRow[];
}

/**
 * The statements writing the `profiles`, `session_statuses` and `krt_connectivity` rows of the
 * accepted session actors: statements of the group commit's.
 */
export function driverStatusStatements(sql: Queryable, { krtIds, sessions, connectivity }: DriverStatusRows, accepted: Accepted): Fragment[] {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  // Unchanged rows are filtered out before the upsert: they must not move forward in the feed, and
  // an upsert that finds its row locks it even when it then changes nothing (most commits change nothing here).
  // `offset 0` keeps each check a probe of the primary key: as an anti-join, the cached generic
  // plan of a prepared statement scanned the whole table on every commit batch.
  return [
    ...statementFor(
      krtIds,
      (ids) => sql`insert into profiles (driver_license_pd_id, deptrans_id, updated_at)
      select i.driver_license_pd_id, i.deptrans_id, i.updated_at
      from jsonb_to_recordset(${sql.json(ids.map((b) => ({ ...b, updated_at: iso(b.updated_at) })))}::jsonb)
        as i(driver_license_pd_id text, deptrans_id text, updated_at timestamptz)
      where ${accepted(sql`i.driver_license_pd_id`)}
        and not exists (select 1 from profiles p where p.driver_license_pd_id = i.driver_license_pd_id and p.deptrans_id = i.deptrans_id offset 0)
      on conflict (driver_license_pd_id) do update
      set deptrans_id = excluded.deptrans_id, updated_at = excluded.updated_at,
          change_xid = pg_current_xact_id(), change_seq = nextval('driver_status_changes')`,
    ),
    ...statementFor(
      sessions,
      (rows) => sql`insert into session_statuses (driver_license_pd_id, session_seq, session_status, updated_at, ended_at)
      select i.driver_license_pd_id, i.session_seq, i.session_status, i.updated_at, i.ended_at
      from jsonb_to_recordset(${sql.json(rows.map((r) => ({ ...r, updated_at: iso(r.updated_at), ended_at: iso(r.ended_at) })))}::jsonb)
        as i(driver_license_pd_id text, session_seq integer, session_status text, updated_at timestamptz, ended_at timestamptz)
      where ${accepted(sql`i.driver_license_pd_id`)}
        and not exists (select 1 from session_statuses s where s.driver_license_pd_id = i.driver_license_pd_id and s.session_seq = i.session_seq offset 0)
      on conflict (driver_license_pd_id, session_seq) do nothing`,
    ),
    ...statementFor(
      connectivity,
      (rows) => sql`insert into krt_connectivity (driver_license_pd_id, connected, updated_at)
      select i.driver_license_pd_id, i.connected, i.updated_at
      from jsonb_to_recordset(${sql.json(rows.map((c) => ({ ...c, updated_at: iso(c.updated_at) })))}::jsonb)
        as i(driver_license_pd_id text, connected boolean, updated_at timestamptz)
      where ${accepted(sql`i.driver_license_pd_id`)}
        and not exists (select 1 from krt_connectivity k where k.driver_license_pd_id = i.driver_license_pd_id and k.connected = i.connected offset 0)
      on conflict (driver_license_pd_id) do update set connected = excluded.connected, updated_at = excluded.updated_at`,
    ),
  ];
}

/** A person's KRT id and latest session. */
export async function findDriverStatus(sql: Queryable, licencePdId: string): Promise<DriverStatusRow> {
  const [row] = await sql<{ deptrans_id: string | null; status: string | null; ended_at: Date | null; updated_at: Date | null }[]>`
    select p.deptrans_id, s.session_status as status, s.ended_at, s.updated_at
    from (select ${licencePdId}::text as driver_license_pd_id) k
    left join profiles p using (driver_license_pd_id)
    left join lateral (
      select session_status, ended_at, updated_at from session_statuses
      where driver_license_pd_id = k.driver_license_pd_id order by session_seq desc limit 1) s on true`;
  return {
    deptrans_id: row?.deptrans_id ?? null,
    session: row?.status ? { status: row.status, ended_at: row.ended_at, updated_at: row.updated_at! } : null,
  };
}

/** The persons connected now, each with his KRT id and latest session (as `findDriverStatus`). */
export async function connectedDriverStatuses(sql: Queryable): Promise<(DriverStatusRow & { driver_license_pd_id: string })[]> {
  const rows = await sql<{ driver_license_pd_id: string; deptrans_id: string | null; status: string | null; ended_at: Date | null; updated_at: Date | null }[]>`
    select c.driver_license_pd_id, p.deptrans_id, s.session_status as status, s.ended_at, s.updated_at
    from krt_connectivity c
    left join profiles p using (driver_license_pd_id)
    left join lateral (
      select session_status, ended_at, updated_at from session_statuses
      where driver_license_pd_id = c.driver_license_pd_id order by session_seq desc limit 1) s on true
    where c.connected`;
  return rows.map((r) => ({
    driver_license_pd_id: r.driver_license_pd_id,
    deptrans_id: r.deptrans_id,
    session: r.status ? { status: r.status, ended_at: r.ended_at, updated_at: r.updated_at! } : null,
  }));
}

/** `profiles` rows changed after `after`, in commit-safe order (see the header). */
export async function profileChanges(sql: Queryable, after: FeedCursor, limit: number): Promise<ProfileChange[]> {
  const rows = await sql<{ driver_license_pd_id: string; has_id: boolean; updated_at: Date; xid: string; seq: string }[]>`
    select driver_license_pd_id, deptrans_id is not null as has_id, updated_at, change_xid::text as xid, change_seq::text as seq
    from profiles
    where (change_xid, change_seq) > (${after.xid}::xid8, ${after.seq}::bigint)
      and change_xid < pg_snapshot_xmin(pg_current_snapshot())
    order by change_xid, change_seq
    limit ${limit}`;
  return rows.map(({ xid, seq, ...r }) => ({ ...r, cursor: { xid, seq } }));
}

/**
 * `session_statuses` rows written after `after`, in commit-safe order (see the header). With
 * `latestOnly` (a full load), only each person's latest row that may be handed out: a later row
 * of his comes later in this order, so skipping the older ones never skips the person.
 */
export async function sessionChanges(sql: Queryable, after: FeedCursor, limit: number, options: { latestOnly?: boolean } = {}): Promise<SessionChange[]> {
  const rows = await sql<{ driver_license_pd_id: string; session_status: string; ended_at: Date | null; updated_at: Date; xid: string; seq: string }[]>`
    select s.driver_license_pd_id, s.session_status, s.ended_at, s.updated_at, s.change_xid::text as xid, s.id::text as seq
    from session_statuses s
    where (s.change_xid, s.id) > (${after.xid}::xid8, ${after.seq}::bigint)
      and s.change_xid < pg_snapshot_xmin(pg_current_snapshot())
      ${
        options.latestOnly
          ? sql`and not exists (select 1 from session_statuses n where n.driver_license_pd_id = s.driver_license_pd_id
              and n.session_seq > s.session_seq and n.change_xid < pg_snapshot_xmin(pg_current_snapshot()) offset 0)`
          : sql``
      }
    order by s.change_xid, s.id
    limit ${limit}`;
  return rows.map(({ xid, seq, ...r }) => ({ ...r, cursor: { xid, seq } }));
}

/** Drops session history older than `before`, except each person's latest row. */
export async function pruneSessionHistory(sql: Queryable, before: Date): Promise<number> {
  const result = await sql`delete from session_statuses s where s.updated_at < ${before}
    and exists (select 1 from session_statuses n where n.driver_license_pd_id = s.driver_license_pd_id and n.session_seq > s.session_seq)`;
  return result.count;
}

/** The stored KRT access token: the `krt_tokens` row of one name. */
export interface KrtTokenRow {
  access_token: string;
  expires_at: Date;
}

/** The stored token of `name`, or null when none was obtained yet. */
export async function readKrtToken(sql: Queryable, name: string): Promise<KrtTokenRow | null> {
  const [row] = await sql<{ access_token: string | null; expires_at: Date | null }[]>`
    select access_token, expires_at from krt_tokens where name = ${name}`;
  return row?.access_token && row.expires_at ? { access_token: row.access_token, expires_at: row.expires_at } : null;
}

/**
 * Claims the refresh of `name` for `claim` until `leaseMs` from now, unless another unexpired
 * claim holds it; true when this one got it. One statement: no lock outlives it, so nothing is
 * held while the claimer calls KRT, and a claimer that died lets go when its lease runs out.
 */
export async function claimKrtTokenRefresh(sql: Queryable, name: string, claim: string, leaseMs: number): Promise<boolean> {
  const rows = await sql`
    insert into krt_tokens (name, refresh_claim, refresh_claim_until)
    values (${name}, ${claim}, now() + ${leaseMs} * interval '1 millisecond')
    on conflict (name) do update set refresh_claim = excluded.refresh_claim, refresh_claim_until = excluded.refresh_claim_until
      where krt_tokens.refresh_claim_until is null or krt_tokens.refresh_claim_until < now()
    returning name`;
  return rows.length === 1;
}

/** Stores the token `claim` obtained and ends the claim; false (nothing stored) when the claim was lost meanwhile. */
export async function storeKrtToken(sql: Queryable, name: string, claim: string, token: KrtTokenRow): Promise<boolean> {
  const rows = await sql`
    update krt_tokens set access_token = ${token.access_token}, expires_at = ${token.expires_at}, updated_at = now(),
      refresh_claim = null, refresh_claim_until = null
    where name = ${name} and refresh_claim = ${claim}
    returning name`;
  return rows.length === 1;
}

/** Ends `claim` without a token (the refresh failed), so the next caller may try at once. */
export async function releaseKrtTokenClaim(sql: Queryable, name: string, claim: string): Promise<void> {
  await sql`update krt_tokens set refresh_claim = null, refresh_claim_until = null where name = ${name} and refresh_claim = ${claim}`;
}
