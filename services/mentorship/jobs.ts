// Mentorship's periodic jobs (SPEC 3.3 items 2 to 4, and retention), run by the
// `mentorship-job/<name>` singletons. Each is idempotent across retries and restarts: a pairing
// is marked imported only after its matching committed it, a progress result or a promocode is
// offered only to a matching still waiting for it, and a repeat finds the matching moved on
// (refused by its state) or is dropped by its message id.
import type { StateValue } from "xstate";
import { topState } from "../../actors/ActorKind.ts";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { EventRejectedError } from "../../actors/errors.ts";
import type { MatchedEvent, MatchingStatus, ProgressDay, ProgressEvent, PromocodeEvent } from "../../machines/matching.machine.ts";
import type { Sql } from "../../storage/database.ts";
import { archiveEnded, matchingIdsInStatus, pruneArchive } from "../../storage/mentorshipRepository.ts";
import type { CrmTables } from "../../integrations/crm/index.ts";

const DAY_MS = 86_400_000;
const PAGE = 500;

/** The status in which a matching waits for each progress day's result. */
const AWAITING: readonly { status: MatchingStatus; day: ProgressDay }[] = [
  { status: "initialized", day: 7 },
  { status: "in_progress", day: 14 },
];

/** Matching ids page by page (`page(after)` keyset on id, "" first), each page to `handle`; sums what it counts. */
async function inPages(page: (after: string) => Promise<string[]>, handle: (ids: string[]) => Promise<number>): Promise<number> {
  let total = 0;
  for (let after = ""; ; ) {
    const ids = await page(after);
    if (ids.length === 0) return total;
    total += await handle(ids);
    after = ids.at(-1)!;
  }
}

/**
 * Pairings the CRM made since the last import -> `matched` (each matching then tells both drivers
 * itself). A pairing is marked imported once its matching took it, or refused it for good (paired
 * already, or unknown to us); one whose matching is still `created` (its application reached the
 * CRM but the answer did not reach the matching yet) stays new for the next run.
 */
export async function importMatches(deps: { crm: CrmTables; system: ActorSystem }): Promise<number> {
  let imported = 0;
  for (const row of await deps.crm.readDistribution()) {
    const event: MatchedEvent = {
      type: "matched",
      mentor_park_id: row.mentor_park_id,
      mentor_driver_id: row.mentor_driver_id,
      connected_at: row.connected_dttm.getTime(),
    };
    try {
      await deps.system.ask(`matching/${row.newbie_matching_id}`, event);
    } catch (error) {
      if (!(error instanceof EventRejectedError)) throw error;
      if (topState(error.state as StateValue) === "created") continue;
    }
    await deps.crm.markDistributionImported(row.newbie_matching_id, row.connected_dttm);
    imported++;
  }
  return imported;
}

export interface ImportDeps {
  crm: CrmTables;
  system: ActorSystem;
  sql: Sql;
  /** Matchings per CRM read. */
  pageSize: number;
}

/**
 * The CRM's results for matchings whose progress day has come (day 7 in `initialized`, day 14 in
 * `in_progress`, by the projection), one CRM read per page -> `progress` (the matching stores it,
 * tells the mentor, moves on). A matching whose result the CRM has not written stays due for a
 * later run.
 */
export async function importProgress(deps: ImportDeps & { now: () => number }): Promise<number> {
  let told = 0;
  for (const { status, day } of AWAITING) {
    const matchedBy = new Date(deps.now() - day * DAY_MS);
    told += await inPages(
      (after) => matchingIdsInStatus(deps.sql, status, deps.pageSize, after, matchedBy),
      async (ids) => {
        const rows = await deps.crm.readResults(ids, day);
        for (const row of rows) {
          const event: ProgressEvent = { type: "progress", day, result: row.result };
          await deps.system.tell(`matching/${row.matching_id}`, event, { messageId: `progress:${row.matching_id}:${day}` });
        }
        return rows.length;
      },
    );
  }
  return told;
}

/** Promocodes the CRM issued for finished matchings -> `promocode` (the matching tells the mentor, then `succeed`). */
export async function importPromocodes(deps: ImportDeps): Promise<number> {
  return inPages(
    (after) => matchingIdsInStatus(deps.sql, "finished", deps.pageSize, after),
    async (ids) => {
      const rows = await deps.crm.readPromocodes(ids);
      for (const row of rows) {
        const event: PromocodeEvent = { type: "promocode", promocode: row.promocode };
        await deps.system.tell(`matching/${row.matching_id}`, event, { messageId: `promocode:${row.matching_id}:${row.promocode}` });
      }
      return rows.length;
    },
  );
}

export interface RetentionPolicy {
  /** Ended (succeed, failed) matchings move to the archive this long after they end. */
  archiveAfterDays: number;
  /** Archived matchings are removed this long after they were archived. */
  keepArchivedDays: number;
}

/** Moves matchings ended long enough ago to the archive, and removes old archived ones. */
export async function sweepRetention(deps: { sql: Sql; now: () => number; policy: RetentionPolicy }): Promise<number> {
  const now = deps.now();
  let moved = 0;
  for (;;) {
    const n = await archiveEnded(deps.sql, new Date(now - deps.policy.archiveAfterDays * DAY_MS), new Date(now), PAGE);
    moved += n;
    if (n < PAGE) break;
  }
  await pruneArchive(deps.sql, new Date(now - deps.policy.keepArchivedDays * DAY_MS));
  return moved;
}
