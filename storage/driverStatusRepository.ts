// Driver statuses' query tables (seed 003): `profiles` (KRT ids) and `session_statuses` (KRT
// session history), projected from the krt-session actors in the same transaction as their
// snapshots, and read by the driver routes and the incremental internal feeds.
//
// Incremental feeds and writers that commit out of order: a sequence number alone is not a safe
// cursor, because numbers are taken when a row is written, not when its transaction commits; a
// reader could hand out cursor 10 while the transaction holding 9 is still open, and then never
// see 9. So every row also records its transaction id (`change_xid`, xid8, which never wraps),
// and a feed returns only rows whose transaction id is below the oldest transaction still running
// (`pg_snapshot_xmin(pg_current_snapshot())`): all those transactions have ended, so no row can
// appear later below the cursor. Rows of transactions still open wait for the next poll. The
// cost is lag, not loss: the feed trails the oldest open transaction (ours are short group commits).
import type { ProjectedActor } from "../actors/ActorKind.ts";
import type { KrtSessionContext } from "../machines/krtSession.machine.ts";
import type { KrtToken, TokenStore } from "../integrations/krt/index.ts";
import type { Queryable, Sql, Tx } from "./database.ts";

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

/** The `profiles` and `session_statuses` rows of the committed session actors; runs inside the group commit. */
export async function projectKrtSessions(tx: Tx, actors: readonly ProjectedActor[]): Promise<void> {
  const bound: { driver_license_pd_id: string; deptrans_id: string; updated_at: Date }[] = [];
  const sessions: { driver_license_pd_id: string; session_seq: number; session_status: string; updated_at: Date; ended_at: Date | null }[] = [];
  for (const actor of actors) {
    const c = actor.context as KrtSessionContext;
    if (c.deptrans_id !== null) bound.push({ driver_license_pd_id: c.id, deptrans_id: c.deptrans_id, updated_at: new Date(c.bound_at ?? actor.at) });
    if (c.session) {
      sessions.push({
        driver_license_pd_id: c.id,
        session_seq: c.session.seq,
        session_status: c.session.status,
        updated_at: new Date(c.session.updated_at),
        ended_at: c.session.ended_at === null ? null : new Date(c.session.ended_at),
      });
    }
  }
  // Unchanged rows are filtered out before the upsert: they must not move forward in the feed, and
  // an upsert that finds its row locks it even when it then changes nothing (most commits change nothing here).
  // `offset 0` keeps each check a probe of the primary key: as an anti-join, the cached generic
  // plan of a prepared statement scanned the whole table on every commit batch.
  if (bound.length) {
    await tx`insert into profiles (driver_license_pd_id, deptrans_id, updated_at)
      select i.driver_license_pd_id, i.deptrans_id, i.updated_at
      from jsonb_to_recordset(${tx.json(bound.map((b) => ({ ...b, updated_at: b.updated_at.toISOString() })))}::jsonb)
        as i(driver_license_pd_id text, deptrans_id text, updated_at timestamptz)
      where not exists (select 1 from profiles p where p.driver_license_pd_id = i.driver_license_pd_id and p.deptrans_id = i.deptrans_id offset 0)
      on conflict (driver_license_pd_id) do update
      set deptrans_id = excluded.deptrans_id, updated_at = excluded.updated_at,
          change_xid = pg_current_xact_id(), change_seq = nextval('driver_status_changes')`;
  }
  if (sessions.length) {
    await tx`insert into session_statuses (driver_license_pd_id, session_seq, session_status, updated_at, ended_at)
      select i.driver_license_pd_id, i.session_seq, i.session_status, i.updated_at, i.ended_at
      from jsonb_to_recordset(${tx.json(sessions.map((r) => ({ ...r, updated_at: r.updated_at.toISOString(), ended_at: r.ended_at?.toISOString() ?? null })))}::jsonb)
        as i(driver_license_pd_id text, session_seq integer, session_status text, updated_at timestamptz, ended_at timestamptz)
      where not exists (select 1 from session_statuses s where s.driver_license_pd_id = i.driver_license_pd_id and s.session_seq = i.session_seq offset 0)
      on conflict (driver_license_pd_id, session_seq) do nothing`;
  }
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

/** `session_statuses` rows written after `after`, in commit-safe order (see the header). */
export async function sessionChanges(sql: Queryable, after: FeedCursor, limit: number): Promise<SessionChange[]> {
  const rows = await sql<{ driver_license_pd_id: string; session_status: string; ended_at: Date | null; updated_at: Date; xid: string; seq: string }[]>`
    select driver_license_pd_id, session_status, ended_at, updated_at, change_xid::text as xid, id::text as seq
    from session_statuses
    where (change_xid, id) > (${after.xid}::xid8, ${after.seq}::bigint)
      and change_xid < pg_snapshot_xmin(pg_current_snapshot())
    order by change_xid, id
    limit ${limit}`;
  return rows.map(({ xid, seq, ...r }) => ({ ...r, cursor: { xid, seq } }));
}

/** Drops session history older than `before`, except each person's latest row. */
export async function pruneSessionHistory(sql: Queryable, before: Date): Promise<number> {
  const result = await sql`delete from session_statuses s where s.updated_at < ${before}
    and exists (select 1 from session_statuses n where n.driver_license_pd_id = s.driver_license_pd_id and n.session_seq > s.session_seq)`;
  return result.count;
}

/**
 * The KRT token in `krt_tokens`, refreshed under the row's lock: instances refreshing at once
 * queue on the lock, and all but the first find a fresh token there and use it.
 */
export function postgresTokenStore(sql: Sql, name = "krt"): TokenStore {
  return {
    replace: (stale, freshUntil, obtain) =>
      sql.begin(async (tx) => {
        await tx`insert into krt_tokens (name) values (${name}) on conflict (name) do nothing`;
        const [row] = await tx<{ access_token: string | null; expires_at: Date | null }[]>`
          select access_token, expires_at from krt_tokens where name = ${name} for update`;
        if (row?.access_token && row.expires_at && row.access_token !== stale && row.expires_at.getTime() > freshUntil) {
          return { accessToken: row.access_token, expiresAt: row.expires_at.getTime() } satisfies KrtToken;
        }
        const token = await obtain();
        await tx`update krt_tokens set access_token = ${token.accessToken}, expires_at = ${new Date(token.expiresAt)}, updated_at = now()
          where name = ${name}`;
        return token;
      }) as Promise<KrtToken>,
  };
}
