// The seed's original design, measured next to ours in bench:status: every status event is
// upserted into a `status_queue` table (one statement per event, the message acknowledged after
// it), and a periodic task drains the queue to KRT (send, then delete the row if unchanged).
// Decoding, licence, category and region filters are the very operators our stream uses, so the
// comparison is about the queue, not about them.
import { driverKey, type DriverKey } from "../integrations/driverKey.ts";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { from, mergeMap, type Subscription } from "rxjs";
import type { Sql } from "../storage/database.ts";
import type { Krt } from "../integrations/krt/index.ts";
import { ensureStatusStream, jetStreamMessages, type ConsumerLimits, type StatusStreamNames } from "../streams/status/statusSource.ts";
import { Settlements } from "../streams/status/settlements.ts";
import { decodeStatuses, isDisconnect, keepCategories, resolveLicences, type LicenceLookup } from "../streams/status/statusOperators.ts";
import { keepInRegion, type PositionLookup } from "../streams/status/keepInRegion.ts";

export interface NaiveOptions {
  sql: Sql;
  natsUrl: string;
  names: StatusStreamNames;
  limits: ConsumerLimits;
  profiles: LicenceLookup;
  categoriesOf(driver: DriverKey): readonly string[];
  positions: PositionLookup;
  krt: Krt;
  /** Upserts in flight at once (the pool has 10 connections). */
  upsertConcurrency: number;
  drainEveryMs: number;
}

export async function startNaiveStatusQueue(o: NaiveOptions): Promise<{ drainedRows(): number; stop(): Promise<void> }> {
  await o.sql`create table if not exists status_queue (
    park_id text not null, driver_id text not null, status text not null, updated_at timestamptz not null,
    primary key (park_id, driver_id))`;
  const nc = await connect({ servers: o.natsUrl });
  await ensureStatusStream(await jetstreamManager(nc), o.names, o.limits);
  const consumer = await jetstream(nc).consumers.get(o.names.stream, o.names.consumer);
  const ignore = () => {};
  const subscription: Subscription = jetStreamMessages(consumer, o.limits.pullBatch, new Settlements(nc))
    .pipe(
      decodeStatuses(async () => {}, ignore),
      resolveLicences(o.profiles, ignore, { missRefreshMs: 1_000, now: Date.now }),
      keepCategories(o.categoriesOf, ["econom", "comfort", "comfort_plus"]),
      keepInRegion(o.positions, { regions: ["moscow"], concurrency: 4, batchSize: 1_000, gatherMs: 10, retryBaseMs: 200, retryMaxMs: 5_000 }),
      mergeMap(
        (s) =>
          from(
            o.sql`insert into status_queue (park_id, driver_id, status, updated_at)
              values (${s.park_id}, ${s.driver_id}, ${isDisconnect(s) ? "offline" : s.status}, ${new Date(s.at)})
              on conflict (park_id, driver_id) do update set status = excluded.status, updated_at = excluded.updated_at
              where status_queue.updated_at < excluded.updated_at`.then(() => s.settle.ack()),
          ),
        o.upsertConcurrency,
      ),
    )
    .subscribe();

  let drained = 0;
  let stopped = false;
  const drain = async () => {
    const rows = await o.sql<{ park_id: string; driver_id: string; status: string; updated_at: Date }[]>`
      select park_id, driver_id, status, updated_at from status_queue order by updated_at limit 500`;
    if (rows.length === 0) return;
    const licences = rows.map((r) => o.profiles.licenceOf(driverKey(r.park_id, r.driver_id)) ?? "");
    const ids = new Map(
      (
        await o.sql<{ driver_license_pd_id: string; deptrans_id: string }[]>`
        select driver_license_pd_id, deptrans_id from profiles where driver_license_pd_id in ${o.sql(licences)} and deptrans_id is not null`
      ).map((r) => [r.driver_license_pd_id, r.deptrans_id]),
    );
    await Promise.all(
      rows.map(async (r, i) => {
        const id = ids.get(licences[i]!);
        if (id) await o.krt.sendConnectivity({ id, connected: r.status !== "offline", at: r.updated_at.getTime() }).catch(() => {});
        await o.sql`delete from status_queue where park_id = ${r.park_id} and driver_id = ${r.driver_id} and updated_at = ${r.updated_at}`;
        drained++;
      }),
    );
  };
  const loop = async () => {
    while (!stopped) {
      await drain().catch(() => {});
      await new Promise((r) => setTimeout(r, o.drainEveryMs));
    }
  };
  const draining = loop();
  return {
    drainedRows: () => drained,
    stop: async () => {
      stopped = true;
      subscription.unsubscribe();
      await draining;
      await nc.drain().catch(() => {});
    },
  };
}
