// Mentorship's query tables (seed 004): `matchings`, `status_transitions` and `results`, projected
// from the matching actors in the same statement as their snapshots (the service maps its actors
// to these rows); the read markers the contacts routes write; and the retention that moves ended
// matchings to the archive.
import type { JSONValue } from "postgres";
import type { Accepted } from "./actorStore.ts";
import { statementFor, type Fragment, type Queryable, type Sql } from "./database.ts";

/** A row of `matchings`: one matching actor's committed state (read markers excepted). */
export interface MatchingRow {
  id: string;
  created_at: Date;
  matched_at: Date | null;
  mentor_park_id: string | null;
  mentor_driver_id: string | null;
  newbie_park_id: string;
  newbie_driver_id: string;
  status: string;
  mentor_promocode: string | null;
  completed_at: Date | null;
  updated_at: Date;
}

/** A matching as read back: its row with both read markers. */
export interface MatchingRecord extends MatchingRow {
  newbie_last_read_at: Date | null;
  mentor_last_read_at: Date | null;
}

export interface StatusTransitionRow {
  matching_id: string;
  seq: number;
  created_at: Date;
  from: string | null;
  to: string;
}

/** The seed's `results` columns; each null until the CRM's figure arrives. */
export const RESULT_COLUMNS = ["rate_avg_7d", "rate_avg_14d", "avg_dp_7d", "avg_dp_14d", "sh_7d", "sh_14d", "correct_answers", "passed_test_flg"] as const;
export type ResultColumn = (typeof RESULT_COLUMNS)[number];

export type ResultsRow = { matching_id: string; newbie_park_id: string; newbie_driver_id: string } & Record<ResultColumn, string | null>;

export interface Driver {
  park_id: string;
  driver_id: string;
}

/**
 * The projection of the accepted matching actors (statements of the group commit's): rows upserted
 * (read markers untouched), status changes appended once each (a repeat of the same `seq` is
 * skipped), results upserted.
 */
export function matchingStatements(
  sql: Queryable,
  rows: { matchings: readonly MatchingRow[]; transitions: readonly StatusTransitionRow[]; results: readonly ResultsRow[] },
  accepted: Accepted,
): Fragment[] {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  // Ids are read as text: the accepted actors' ids are text, and a uuid is checked by the insert.
  return [
    ...statementFor(
      rows.matchings,
      (matchings) => sql`insert into matchings (id, created_at, matched_at, mentor_park_id, mentor_driver_id, newbie_park_id, newbie_driver_id,
        status, mentor_promocode, completed_at, updated_at)
      select x.id::uuid, x.created_at, x.matched_at, x.mentor_park_id, x.mentor_driver_id, x.newbie_park_id, x.newbie_driver_id,
        x.status, x.mentor_promocode, x.completed_at, x.updated_at
      from jsonb_to_recordset(${sql.json(
        matchings.map((m) => ({
          ...m,
          created_at: iso(m.created_at),
          matched_at: iso(m.matched_at),
          completed_at: iso(m.completed_at),
          updated_at: iso(m.updated_at),
        })),
      )}::jsonb) as x(id text, created_at timestamptz, matched_at timestamptz, mentor_park_id text, mentor_driver_id text,
        newbie_park_id text, newbie_driver_id text, status matching_status, mentor_promocode text, completed_at timestamptz, updated_at timestamptz)
      where ${accepted(sql`x.id`)}
      on conflict (id) do update set matched_at = excluded.matched_at, mentor_park_id = excluded.mentor_park_id,
        mentor_driver_id = excluded.mentor_driver_id, status = excluded.status, mentor_promocode = excluded.mentor_promocode,
        completed_at = excluded.completed_at, updated_at = excluded.updated_at`,
    ),
    ...statementFor(
      rows.transitions,
      (transitions) => sql`insert into status_transitions (matching_id, seq, created_at, "from", "to")
      select x.matching_id::uuid, x.seq, x.created_at, x."from", x."to"
      from jsonb_to_recordset(${sql.json(transitions.map((t) => ({ ...t, created_at: iso(t.created_at) })))}::jsonb)
        as x(matching_id text, seq integer, created_at timestamptz, "from" matching_status, "to" matching_status)
      where ${accepted(sql`x.matching_id`)}
      on conflict (matching_id, seq) do nothing`,
    ),
    ...statementFor(
      rows.results,
      (results) => sql`insert into results (matching_id, newbie_park_id, newbie_driver_id, rate_avg_7d, rate_avg_14d, avg_dp_7d, avg_dp_14d,
        sh_7d, sh_14d, correct_answers, passed_test_flg)
      select x.matching_id::uuid, x.newbie_park_id, x.newbie_driver_id, x.rate_avg_7d, x.rate_avg_14d, x.avg_dp_7d, x.avg_dp_14d,
        x.sh_7d, x.sh_14d, x.correct_answers, x.passed_test_flg
      from jsonb_to_recordset(${sql.json(results as unknown as JSONValue)}::jsonb)
        as x(matching_id text, newbie_park_id text, newbie_driver_id text, rate_avg_7d text, rate_avg_14d text, avg_dp_7d text,
        avg_dp_14d text, sh_7d text, sh_14d text, correct_answers text, passed_test_flg text)
      where ${accepted(sql`x.matching_id`)}
      on conflict (matching_id) do update set
        rate_avg_7d = excluded.rate_avg_7d, rate_avg_14d = excluded.rate_avg_14d, avg_dp_7d = excluded.avg_dp_7d,
        avg_dp_14d = excluded.avg_dp_14d, sh_7d = excluded.sh_7d, sh_14d = excluded.sh_14d,
        correct_answers = excluded.correct_answers, passed_test_flg = excluded.passed_test_flg`,
    ),
  ];
}

/** Every live matching in which one of `drivers` is the newbie or the mentor, newest first. */
export async function matchingsOfDrivers(sql: Queryable, drivers: readonly Driver[]): Promise<MatchingRecord[]> {
  if (drivers.length === 0) return [];
  const parks = drivers.map((d) => d.park_id);
  const ids = drivers.map((d) => d.driver_id);
  return sql<MatchingRecord[]>`
    with d as (select * from unnest(${sql.array(parks)}::text[], ${sql.array(ids)}::text[]) as d(park_id, driver_id))
    select m.* from matchings m
    where (m.newbie_park_id, m.newbie_driver_id) in (select park_id, driver_id from d)
       or (m.mentor_park_id, m.mentor_driver_id) in (select park_id, driver_id from d)
    order by m.created_at desc, m.id`;
}

export async function transitionsOf(sql: Queryable, matchingIds: readonly string[]): Promise<StatusTransitionRow[]> {
  if (matchingIds.length === 0) return [];
  return sql<StatusTransitionRow[]>`
    select matching_id, seq, created_at, "from", "to" from status_transitions
    where matching_id = any(${sql.array([...matchingIds])}::uuid[]) order by matching_id, seq`;
}

export async function resultsOf(sql: Queryable, matchingIds: readonly string[]): Promise<ResultsRow[]> {
  if (matchingIds.length === 0) return [];
  return sql<ResultsRow[]>`select * from results where matching_id = any(${sql.array([...matchingIds])}::uuid[])`;
}

/** Sets the newbie's or the mentor's read marker to `at` (never back in time). */
export async function markRead(sql: Queryable, matchingId: string, role: "newbie" | "mentor", at: Date): Promise<void> {
  const column = role === "newbie" ? "newbie_last_read_at" : "mentor_last_read_at";
  await sql`update matchings set ${sql(column)} = greatest(coalesce(${sql(column)}, ${at}), ${at}) where id = ${matchingId}`;
}

/**
 * Ids of live matchings in `status` after `after` (paging by id; "" for the first page); with
 * `matchedBy`, only those the CRM paired at or before it.
 */
export async function matchingIdsInStatus(sql: Queryable, status: string, limit: number, after: string, matchedBy?: Date): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from matchings
    where status = ${status} and id::text > ${after} ${matchedBy ? sql`and matched_at <= ${matchedBy}` : sql``}
    order by id::text limit ${limit}`;
  return rows.map((r) => r.id);
}

/**
 * Moves matchings that ended (succeed or failed) before `endedBefore` to the archive, with their
 * history and results: copied first, then deleted from the live tables, in one transaction, so a
 * matching is always in exactly one of the two. Returns how many moved.
 */
export async function archiveEnded(sql: Sql, endedBefore: Date, archivedAt: Date, limit: number): Promise<number> {
  return sql.begin(async (tx) => {
    const ids = (
      await tx<{ id: string }[]>`select id from matchings where status in ('succeed', 'failed') and completed_at < ${endedBefore}
        order by completed_at limit ${limit} for update skip locked`
    ).map((r) => r.id);
    if (ids.length === 0) return 0;
    const list = tx.array(ids);
    await tx`insert into matchings_archive select m.*, ${archivedAt} from matchings m where id = any(${list}::uuid[]) on conflict (id) do nothing`;
    await tx`insert into status_transitions_archive select * from status_transitions where matching_id = any(${list}::uuid[])`;
    await tx`insert into results_archive select * from results where matching_id = any(${list}::uuid[])`;
    await tx`delete from matchings where id = any(${list}::uuid[])`;
    return ids.length;
  });
}

/** Removes archived matchings archived before `before`, with their history and results. */
export async function pruneArchive(sql: Sql, before: Date): Promise<number> {
  return sql.begin(async (tx) => {
    const ids = (await tx<{ id: string }[]>`delete from matchings_archive where archived_at < ${before} returning id`).map((r) => r.id);
    if (ids.length === 0) return 0;
    await tx`delete from status_transitions_archive where matching_id = any(${tx.array(ids)}::uuid[])`;
    await tx`delete from results_archive where matching_id = any(${tx.array(ids)}::uuid[])`;
    return ids.length;
  });
}

/** Matchings per status, live and archived together: every application still on record. */
export async function matchingTotals(sql: Queryable): Promise<{ status: string; count: number }[]> {
  return sql<{ status: string; count: number }[]>`
    select status::text, count(*)::int as count
    from (select status from matchings union all select status from matchings_archive) m group by status`;
}
