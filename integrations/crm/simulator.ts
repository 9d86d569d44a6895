// A fake CRM over the Postgres CRM tables: pairs waiting newbies with mentors from a pool, writes
// their progress at day 7 and 14 and a promocode for a share of them, each time it is ticked (by the
// test, or by a timer on the caller's clock). Its port has a fault switch: "CRM unavailable".
import { createHash } from "node:crypto";
import type { Sql } from "postgres";
import { PartnerUnavailableError } from "../errors.ts";
import { crmSchemaOnce, postgresCrm } from "./postgres.ts";
import type { CrmTables, DistributionRow, NewDriverRow, PromocodeRow, ResultDay, ResultRow } from "./tables.ts";

const dayMs = 86_400_000;

export interface Mentor {
  readonly park_id: string;
  readonly driver_id: string;
}

export interface CrmFaults {
  /** Every call of `tables` fails with `crm_unavailable`, touching nothing. */
  unavailable: boolean;
  /** Every call of `tables` is done, then fails with `crm_unavailable` as if its answer was lost. */
  lostReplies: boolean;
}

export interface CrmSettings {
  /** Share (0..1) of newbies who get a promocode at day 14; which ones is fixed per matching id. */
  promocodeShare: number;
}

export interface CrmSimulatorOptions {
  readonly sql: Sql;
  /** Default `crm`; tests use one schema each. */
  readonly schema?: string;
  /** Who the newbies are paired with: the least loaded first, never the newbie's own profile. */
  readonly mentors: readonly Mentor[];
  /** Default 0.5. */
  readonly promocodeShare?: number;
}

/** What one tick wrote. */
export interface CrmTick {
  readonly paired: number;
  readonly results: number;
  readonly promocodes: number;
}

export interface CrmSnapshot {
  readonly newDrivers: readonly NewDriverRow[];
  readonly distribution: readonly DistributionRow[];
  readonly results: readonly ResultRow[];
  readonly promocodes: readonly PromocodeRow[];
}

export interface CrmSimulator {
  /** The CRM tables port as our service sees the CRM, subject to `faults`. */
  readonly tables: CrmTables;
  readonly faults: CrmFaults;
  readonly settings: CrmSettings;
  /** Calls made through `tables` (failed ones included). */
  readonly stats: { calls: number };
  /**
   * The CRM's own work as of `now`: pairs newbies waiting in new_drivers; writes day-7 results once a
   * pairing is 7 days old and day-14 results (and promocodes for the share) once it is 14 days old.
   * Each row is written once however often it runs, from one simulator or several over the same schema.
   */
  tick(now: Date): Promise<CrmTick>;
  /** Ticks every `everyMs` at `now()` until `close()` (embedded mode: `now` is the runtime's clock). */
  start(everyMs: number, now: () => number): void;
  /** Every row of the four tables, for tests. */
  snapshot(): Promise<CrmSnapshot>;
  /** Stops the timer and waits for a running tick; the tables stay. */
  close(): Promise<void>;
}

/**
 * @example const crm = crmSimulator({ sql: db.sql, mentors: [{ park_id: "park-1", driver_id: "mentor-1" }] });
 *          crm.start(2_000, () => clock.now()); service uses crm.tables
 */
export function crmSimulator(options: CrmSimulatorOptions): CrmSimulator {
  const { sql, mentors } = options;
  const schema = options.schema ?? "crm";
  const t = sql(schema);
  const faults: CrmFaults = { unavailable: false, lostReplies: false };
  const settings: CrmSettings = { promocodeShare: options.promocodeShare ?? 0.5 };
  const stats = { calls: 0 };
  const tables = withFaults(postgresCrm(sql, schema), faults, stats);
  const ready = crmSchemaOnce(sql, schema);

  async function pair(now: Date): Promise<number> {
    // Without mentors nobody is paired: the newbies waiting need not be read every tick.
    if (mentors.length === 0) return 0;
    const waiting = await sql<{ matching_id: string; park_id: string; driver_id: string }[]>`
      select n.matching_id, n.park_id, n.driver_id from ${t}.new_drivers n
      where not exists (select 1 from ${t}.distribution d where d.newbie_matching_id = n.matching_id)
      order by n.created_at, n.matching_id`;
    if (waiting.length === 0) return 0;
    const load = new Map(mentors.map((m) => [mentorKey(m), 0]));
    for (const row of await sql<{ key: string; n: number }[]>`
      select mentor_park_id || '/' || mentor_driver_id as key, count(*)::int as n from ${t}.distribution group by 1`) {
      if (load.has(row.key)) load.set(row.key, row.n);
    }
    const rows = waiting.flatMap((newbie) => {
      const mentor = leastLoaded(mentors, load, newbie);
      if (mentor === undefined) return [];
      load.set(mentorKey(mentor), load.get(mentorKey(mentor))! + 1);
      return [{ newbie_matching_id: newbie.matching_id, mentor_park_id: mentor.park_id, mentor_driver_id: mentor.driver_id, connected_dttm: now }];
    });
    if (rows.length === 0) return 0;
    const inserted = await sql`insert into ${t}.distribution ${sql(rows, "newbie_matching_id", "mentor_park_id", "mentor_driver_id", "connected_dttm")}
      on conflict (newbie_matching_id) do nothing`;
    return inserted.count;
  }

  async function writeResults(now: Date, day: ResultDay): Promise<number> {
    const due = await sql<{ newbie_matching_id: string }[]>`
      select d.newbie_matching_id from ${t}.distribution d
      where d.connected_dttm <= ${new Date(now.getTime() - day * dayMs)}
        and not exists (select 1 from ${t}.results_to_send r where r.matching_id = d.newbie_matching_id and r.day = ${day})
      order by d.newbie_matching_id`;
    if (due.length === 0) return 0;
    const rows = due.map((d) => ({ matching_id: d.newbie_matching_id, day, result: sql.json(progressOf(d.newbie_matching_id, day)) }));
    const inserted = await sql`insert into ${t}.results_to_send ${sql(rows, "matching_id", "day", "result")} on conflict do nothing`;
    return inserted.count;
  }

  async function writePromocodes(now: Date): Promise<number> {
    const finished = await sql<{ matching_id: string }[]>`
      select r.matching_id from ${t}.results_to_send r
      where r.day = 14 and not exists (select 1 from ${t}.finished_promocodes p where p.matching_id = r.matching_id)
      order by r.matching_id`;
    const rows = finished
      .filter((r) => share(r.matching_id, "promocode") < settings.promocodeShare)
      .map((r) => ({ matching_id: r.matching_id, promocode: promocodeOf(r.matching_id), issued_at: now }));
    if (rows.length === 0) return 0;
    const inserted = await sql`insert into ${t}.finished_promocodes ${sql(rows, "matching_id", "promocode", "issued_at")} on conflict do nothing`;
    return inserted.count;
  }

  // One tick at a time per simulator: the timer's and a test's never interleave.
  let running: Promise<unknown> = Promise.resolve();
  const tick = (now: Date): Promise<CrmTick> => {
    const next = running.then(async () => {
      await ready();
      const paired = await pair(now);
      const results = (await writeResults(now, 7)) + (await writeResults(now, 14));
      return { paired, results, promocodes: await writePromocodes(now) };
    });
    running = next.catch(() => {});
    return next;
  };

  let timer: NodeJS.Timeout | undefined;
  return {
    tables,
    faults,
    settings,
    stats,
    tick,
    start(everyMs, now) {
      timer ??= setInterval(() => void tick(new Date(now())).catch(() => {}), everyMs);
    },
    async snapshot() {
      await ready();
      const [newDrivers, distribution, results, promocodes] = await Promise.all([
        sql<NewDriverRow[]>`select * from ${t}.new_drivers order by created_at, matching_id`,
        sql<DistributionRow[]>`select * from ${t}.distribution order by connected_dttm, newbie_matching_id`,
        sql<ResultRow[]>`select matching_id, day, result from ${t}.results_to_send order by matching_id, day`,
        sql<PromocodeRow[]>`select * from ${t}.finished_promocodes order by matching_id`,
      ]);
      return { newDrivers, distribution, results, promocodes };
    },
    async close() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}

/** The port, failing as `faults` say before (unavailable) or after (lost reply) the real call. */
function withFaults(tables: CrmTables, faults: CrmFaults, stats: { calls: number }): CrmTables {
  const guarded =
    <A extends unknown[], T>(call: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      stats.calls++;
      if (faults.unavailable) throw new PartnerUnavailableError("crm", "crm is unavailable");
      const answer = await call(...args);
      if (faults.lostReplies) throw new PartnerUnavailableError("crm", "crm's answer was lost");
      return answer;
    };
  return {
    writeNewDriver: guarded(tables.writeNewDriver),
    readDistribution: guarded(tables.readDistribution),
    markDistributionImported: guarded(tables.markDistributionImported),
    readResults: guarded(tables.readResults),
    readPromocodes: guarded(tables.readPromocodes),
  };
}

const mentorKey = (m: Mentor) => `${m.park_id}/${m.driver_id}`;

function leastLoaded(mentors: readonly Mentor[], load: ReadonlyMap<string, number>, newbie: Mentor): Mentor | undefined {
  let best: Mentor | undefined;
  for (const m of mentors) {
    if (m.park_id === newbie.park_id && m.driver_id === newbie.driver_id) continue;
    if (best === undefined || load.get(mentorKey(m))! < load.get(mentorKey(best))!) best = m;
  }
  return best;
}

/** A number in [0, 1) fixed by the matching id and purpose, so every tick and simulator agrees. */
function share(matchingId: string, purpose: string): number {
  return createHash("sha256").update(`${purpose}:${matchingId}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** The seed's progress fields, as strings, made up from the matching id. */
function progressOf(matchingId: string, day: ResultDay): Record<string, string> {
  const at = (purpose: string, min: number, max: number, digits: number) => (min + share(matchingId, `${purpose}${day}`) * (max - min)).toFixed(digits);
  const window = `${day}d`;
  const common = {
    [`rate_avg_${window}`]: at("rate", 4.5, 5, 2),
    [`avg_dp_${window}`]: at("dp", 60, 100, 1),
    [`sh_${window}`]: at("sh", 2, 10, 1),
  };
  if (day === 7) return common;
  const correct = 5 + Math.floor(share(matchingId, "answers") * 6);
  return { ...common, correct_answers: String(correct), passed_test_flg: String(correct >= 8) };
}

function promocodeOf(matchingId: string): string {
  return `MENTOR-${createHash("sha256").update(matchingId).digest("hex").slice(0, 8).toUpperCase()}`;
}
