// bench:memory's scenarios: each kind's actors driven into the state a long-running instance holds
// them in, through the events its service sends (asks and tells with the same shapes and message
// ids as the routes, polling, outbox, imports and status stream), the partners being the
// simulators the instance starts for itself.
import { createHash, randomUUID } from "node:crypto";
import type { Instance } from "../instance.ts";
import type { Sql } from "../storage/database.ts";
import { insertTemplate } from "../storage/mailingRepository.ts";
import { locatedInCabinet, locatedWithContractor, type ReportedCell } from "../machines/cabinetCells.ts";
import { pointIn } from "../integrations/trackstory/index.ts";

export interface MemoryScenario {
  type: string;
  /** The state the actors are left in, for the report. */
  state: string;
  /** Partner data for `n` actors, loaded before the baseline is read. */
  prepare?(n: number): Promise<void> | void;
  /** Drives actors 0..n-1 of the kind. */
  drive(n: number): Promise<void>;
  /** Other kinds the turns wake (through the outbox), passivated before the kind is measured. */
  wakes?: readonly string[];
}

/** Cells per cabinet, and how many hold an accumulator (the rest are empty, for returns). */
export const CABINET_CELLS = 30;
const CABINET_ACCUMULATORS = 20;
/** Issue bookings made and released per cabinet before the one left active. */
const BOOKING_CYCLES = Number(process.env.BENCH_BOOKING_CYCLES ?? 5);
/** Inventory reports per cabinet after the first (polling's heartbeats). */
const HEARTBEATS = Number(process.env.BENCH_HEARTBEATS ?? 5);
/** Drivers of the park a mailing goes to (3 feeds batches of 100). */
const MAILING_RECIPIENTS = Number(process.env.BENCH_MAILING_RECIPIENTS ?? 300);
/**
 * Actors driven at once: their turns share group commits. (1,024 drove 10,000 cabinets a little
 * faster, but overran the in-process KRT simulator at 50,000 sessions: 2 s timeouts, then retries.)
 */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 256);
/** Patient (a few hundred in flight, behind the outbox of what they set off), and within the default SLEEP_AFTER_MS. */
export const ASK_TIMEOUT_MS = 30_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The variables the scenarios need: KRT unthrottled, imports, retries and sleep far off (the bench does what they would). */
export const scenarioEnv = {
  // The bench puts them to sleep and passivates them itself, after reading them live: a drive of
  // 100,000 actors outlasts the default 10 minutes, which would passivate the first ones meanwhile.
  SLEEP_AFTER_MS: String(HOUR),
  PASSIVATE_AFTER_MS: String(DAY),
  KRT_RATE_LIMIT_PER_S: "1000000",
  MAILING_RETRY_BASE_MS: String(HOUR),
  MENTORSHIP_MATCH_IMPORT_MS: String(DAY),
  MENTORSHIP_PROGRESS_IMPORT_MS: String(DAY),
  MENTORSHIP_PROMOCODE_IMPORT_MS: String(DAY),
  CRM_SIMULATOR_TICK_MS: String(DAY),
  // The bench reports inventories itself: polling the cabinets (no device answers) would add a
  // missed poll to each every 10 s, waking the passivated ones while the next kinds are measured.
  CABINET_POLL_MS: String(DAY),
};

/** Runs `work(i)` for i in 0..n-1, `CONCURRENCY` at a time. */
async function each(n: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

/** A partner's id (driver, contractor, licence): 32 hex digits, random-looking as theirs are (so no compression flatters them). */
const hex = (i: number, salt: string) => createHash("md5").update(`${salt}${i}`).digest("hex");
/** A matching's id is a UUID (services/mentorship/matchingId.ts). */
const matchingId = (i: number) => `7a3c9e10-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

/** A cabinet's inventory report: unchanged from one poll to the next, as most are. */
function cells(cabinet: number, charge: number): ReportedCell[] {
  return Array.from({ length: CABINET_CELLS }, (_, c) => ({
    cell: c + 1,
    accumulator_id: c < CABINET_ACCUMULATORS ? `acc-${cabinet}-${c + 1}` : null,
    charge: c < CABINET_ACCUMULATORS ? charge : null,
  }));
}

/** The saved template each park's mailings reuse. */
const mailingTemplate = (park: number) => ({
  id: `template-${park}`,
  message: "Tomorrow the park's office is closed: documents are signed online in the app, under Profile > Documents.",
});

export function memoryScenarios(instance: Instance, sql: Sql): MemoryScenario[] {
  const { system, services } = instance;
  const now = () => Date.now();
  const ask = <T = unknown>(to: string, event: { type: string } & Record<string, unknown>) => system.ask<T>(to, event, { timeoutMs: ASK_TIMEOUT_MS });
  return [
    {
      type: "cabinet",
      state: `registered, ${CABINET_CELLS} cells (${CABINET_ACCUMULATORS} accumulators), ${BOOKING_CYCLES} bookings released, 1 active, ${HEARTBEATS + 1} reports`,
      wakes: ["accumulator"],
      async drive(n) {
        await each(n, async (i) => {
          const cabinet = `cabinet/CAB-${i}`;
          await ask(cabinet, { type: "register", lat: 55.7 + (i % 100) / 1000, lon: 37.6 });
          await ask(cabinet, { type: "inventory_reported", polled_at: now(), cells: cells(i, 95) });
          for (let b = 0; b <= BOOKING_CYCLES; b++) {
            const booking = { booking_id: randomUUID(), contractor_id: hex(i, "c") };
            await ask(cabinet, { type: "book", ...booking, kind: "issue", count: 2, min_charge: 80, ttl_ms: HOUR });
            if (b < BOOKING_CYCLES) await ask(cabinet, { type: "release", booking_id: booking.booking_id });
          }
          for (let h = 0; h < HEARTBEATS; h++) await ask(cabinet, { type: "inventory_reported", polled_at: now(), cells: cells(i, 95) });
        });
      },
    },
    {
      type: "accumulator",
      state: "in a cabinet cell, issued to a contractor, returned into another cabinet",
      async drive(n) {
        await each(n, async (i) => {
          const id = `ACC-${i}`;
          const into = (cabinetId: string, cell: number) => locatedInCabinet(cabinetId, { cell, accumulator_id: id, charge: 97 }, now());
          for (const move of [
            into(`CAB-${i % 1000}`, 1 + (i % CABINET_CELLS)),
            locatedWithContractor(`CAB-${i % 1000}`, hex(i, "c"), { cell: 1 + (i % CABINET_CELLS), accumulator_id: id }, now()),
            into(`CAB-${(i + 1) % 1000}`, 1 + ((i + 7) % CABINET_CELLS)),
          ]) {
            await system.tell(move.to, move.event);
          }
        });
      },
    },
    {
      type: "krt-session",
      state: "bound, 2 park profiles, 5 statuses, KRT answered",
      prepare(n) {
        for (let i = 0; i < n; i++) services.driverStatus.simulators.krt?.register(String(1_000_000_000 + i), `77BN${i}`);
      },
      async drive(n) {
        await each(n, async (i) => {
          const session = `krt-session/pd-${hex(i, "l")}`;
          await ask(session, { type: "bind", deptrans_id: String(1_000_000_000 + i) });
          const t0 = now() - 60_000;
          const statuses: [string, boolean][] = [
            ["a", true],
            ["b", true],
            ["a", false],
            ["b", false],
            ["a", true],
          ];
          for (const [k, [profile, connected]] of statuses.entries()) {
            const driver = { park_id: `park-${i % 500}`, driver_id: `${hex(i, profile)}` };
            const at = t0 + k * 1_000;
            // As the status stream tells them (services/driverStatus/statusStream.ts).
            await system.tell(
              session,
              { type: "connectivity", ...driver, connected, status_at: at },
              { messageId: `status:${driver.park_id}/${driver.driver_id}:${at}` },
            );
          }
        });
      },
    },
    {
      type: "mailing",
      state: `audience of ${MAILING_RECIPIENTS} resolved, delivery waiting to retry (feeds down)`,
      async prepare() {
        const drivers = Array.from({ length: MAILING_RECIPIENTS }, (_, d) => ({ driverId: hex(d, "d"), workRule: "default", status: "online" as const }));
        for (let p = 0; p < 100; p++) {
          services.mailings.simulators.parks?.addDrivers(`park-${p}`, drivers);
          await insertTemplate(sql, {
            ...mailingTemplate(p),
            park_id: `park-${p}`,
            filter: {},
            created_at: new Date(),
            created_by: "1000",
            last_sent_at: null,
          });
        }
        const feeds = services.mailings.simulators.feeds;
        if (feeds) feeds.faults.down = true;
      },
      async drive(n) {
        await each(n, (i) =>
          ask(`mailing/${randomUUID()}`, {
            type: "create",
            park_id: `park-${i % 100}`,
            template_id: mailingTemplate(i % 100).id,
            created_by: String(10_000 + i),
            message: mailingTemplate(i % 100).message,
            filter: {},
          }),
        );
      },
    },
    {
      type: "matching",
      state: "in_progress: applied, matched, both told, day-7 result in, mentor told",
      prepare(n) {
        const s = services.mentorship.simulators;
        for (let i = 0; i < n; i++) {
          const newbie = { park_id: `park-${i % 500}`, driver_id: hex(i, "n") };
          const phone = s.mentorPersonal?.preload("phones", `+7916${String(i).padStart(7, "0")}`) ?? null;
          s.mentorProfiles?.upsert([{ ...newbie, driver_license_pd_id: hex(i, "l"), phone_pd_id: phone, name: "Ivan Novikov" }]);
          s.mentorTrackstory?.move([{ ...newbie, ...pointIn("moscow") }]);
          s.fleetRent?.set([{ ...newbie, rented: i % 2 === 0 }]);
        }
      },
      async drive(n) {
        const matching = (i: number) => `matching/${matchingId(i)}`;
        const reached = (i: number, status: string) => async () => {
          for (;;) {
            const { status: now } = await ask<{ status: string }>(matching(i), {
              type: "confirm",
              newbie_park_id: `park-${i % 500}`,
              newbie_driver_id: hex(i, "n"),
            });
            if (now === status) return;
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        // confirm (the route), then what the match import asks, then what the progress import tells.
        await each(n, (i) => reached(i, "requested")());
        const connectedAt = now() - 8 * DAY;
        await each(n, async (i) => {
          await ask(matching(i), { type: "matched", mentor_park_id: "park-1", mentor_driver_id: hex(i % 100, "t"), connected_at: connectedAt });
          await reached(i, "initialized")();
        });
        await each(n, (i) =>
          system.tell(
            matching(i),
            { type: "progress", day: 7, result: { orders: 41, hours: 37.5, rating: 4.86 } },
            { messageId: `progress:${matchingId(i)}:7` },
          ),
        );
      },
    },
  ];
}
