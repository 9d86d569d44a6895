// The matching actors as mentorship's query rows: the `matchings` row, every status change as a
// `status_transitions` row (keyed by its place in the history, so a re-projection adds nothing),
// and the CRM's progress figures in the seed's `results` columns.
import type { ProjectedActor } from "../../actors/ActorKind.ts";
import { statusOf, type MatchingContext } from "../../machines/matching.machine.ts";
import type { Accepted } from "../../storage/actorStore.ts";
import type { Fragment, Queryable } from "../../storage/database.ts";
import { RESULT_COLUMNS, matchingStatements, type MatchingRow, type ResultsRow, type StatusTransitionRow } from "../../storage/mentorshipRepository.ts";

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

export function matchingRow({ context: c, at }: ProjectedActor<MatchingContext>): MatchingRow {
  return {
    id: c.id,
    created_at: new Date(c.created_at),
    matched_at: date(c.matched_at),
    mentor_park_id: c.mentor_park_id,
    mentor_driver_id: c.mentor_driver_id,
    newbie_park_id: c.newbie_park_id,
    newbie_driver_id: c.newbie_driver_id,
    status: statusOf(c)!,
    mentor_promocode: c.mentor_promocode,
    completed_at: date(c.completed_at),
    updated_at: new Date(at),
  };
}

/** The seed's columns from the CRM's figures of both days (a later day's value wins); null where it sent none. */
export function resultsRow(c: MatchingContext): ResultsRow {
  const merged: Record<string, unknown> = {};
  for (const r of [...c.results].sort((a, b) => a.day - b.day)) Object.assign(merged, r.result);
  const row = { matching_id: c.id, newbie_park_id: c.newbie_park_id, newbie_driver_id: c.newbie_driver_id } as ResultsRow;
  for (const column of RESULT_COLUMNS) row[column] = merged[column] == null ? null : String(merged[column]);
  return row;
}

/** The matching kind's projection: statements of the group commit's. */
export function projectMatchings(sql: Queryable, actors: readonly ProjectedActor<MatchingContext>[], accepted: Accepted): Fragment[] {
  const confirmed = actors.filter((a) => statusOf(a.context) !== null);
  const transitions: StatusTransitionRow[] = confirmed.flatMap(({ context: c }) =>
    c.transitions.map((t) => ({ matching_id: c.id, seq: t.seq, created_at: new Date(t.at), from: t.from, to: t.to })),
  );
  return matchingStatements(
    sql,
    {
      matchings: confirmed.map(matchingRow),
      transitions,
      results: confirmed.filter((a) => a.context.results.length > 0).map((a) => resultsRow(a.context)),
    },
    accepted,
  );
}
