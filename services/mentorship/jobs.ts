// Mentorship's periodic jobs (SPEC 3.3 items 2 and 4, and retention), run by the
// `mentorship-job/<name>` singletons. Each is idempotent across retries and restarts: a pairing
// is marked imported only after its matching committed it, a promocode is offered only to a
// matching still `finished`, and a repeat finds the matching moved on (refused by its state) or
// is dropped by its message id.
import type { StateValue } from "xstate";
import { topState } from "../../actors/ActorKind.ts";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { EventRejectedError } from "../../actors/errors.ts";
import type { MatchedEvent, PromocodeEvent } from "../../machines/matching.machine.ts";
import type { Sql } from "../../storage/database.ts";
import { archiveEnded, matchingIdsInStatus, pruneArchive } from "../../storage/mentorshipRepository.ts";
import type { CrmTables } from "../../integrations/crm/index.ts";

const DAY_MS = 86_400_000;
const PAGE = 500;

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

/** Promocodes the CRM issued for finished matchings -> `promocode` (the matching tells the mentor, then `succeed`). */
export async function importPromocodes(deps: { crm: CrmTables; system: ActorSystem; sql: Sql }): Promise<number> {
  let told = 0;
  let after = "";
  for (;;) {
    const ids = await matchingIdsInStatus(deps.sql, "finished", PAGE, after);
    if (ids.length === 0) return told;
    for (const row of await deps.crm.readPromocodes(ids)) {
      const event: PromocodeEvent = { type: "promocode", promocode: row.promocode };
      await deps.system.tell(`matching/${row.matching_id}`, event, { messageId: `promocode:${row.matching_id}:${row.promocode}` });
      told++;
    }
    after = ids.at(-1)!;
  }
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
