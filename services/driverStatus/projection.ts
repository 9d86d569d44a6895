// The krt-session actors as the driver-status tables' rows: a bound id is a `profiles` row, the
// latest session change a `session_statuses` row, whether the person works a `krt_connectivity`
// row (storage/driverStatusRepository.ts writes them).
import type { ProjectedActor } from "../../actors/ActorKind.ts";
import { isConnected, type KrtSessionContext } from "../../machines/krtSession.machine.ts";
import {
  driverStatusStatements,
  type ConnectivityRow,
  type DriverStatusRows,
  type KrtIdRow,
  type SessionStatusRow,
} from "../../storage/driverStatusRepository.ts";
import type { Accepted } from "../../storage/actorStore.ts";
import type { Fragment, Queryable } from "../../storage/database.ts";

/** The rows of the committed session actors: those bound, those with a session, and everyone's connectivity. */
export function driverStatusRows(actors: readonly ProjectedActor<KrtSessionContext>[]): DriverStatusRows {
  const krtIds: KrtIdRow[] = [];
  const sessions: SessionStatusRow[] = [];
  const connectivity: ConnectivityRow[] = [];
  for (const { context: c, at } of actors) {
    connectivity.push({ driver_license_pd_id: c.id, connected: isConnected(c), updated_at: new Date(at) });
    if (c.deptrans_id !== null) krtIds.push({ driver_license_pd_id: c.id, deptrans_id: c.deptrans_id, updated_at: new Date(c.bound_at ?? at) });
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
  return { krtIds, sessions, connectivity };
}

/** The krt-session kind's projection: statements of the group commit's. */
export const projectKrtSessions = (sql: Queryable, actors: readonly ProjectedActor<KrtSessionContext>[], accepted: Accepted): Fragment[] =>
  driverStatusStatements(sql, driverStatusRows(actors), accepted);
