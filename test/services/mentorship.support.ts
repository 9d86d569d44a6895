// What the mentorship tests share: an instance on a moved clock with its own simulators, people
// with profiles, phones and positions, driver calls, and reads of the matchings' tables.
import { ManualClock } from "../../actors/clock.ts";
import { noFaults } from "../../integrations/simulator.ts";
import { pointIn } from "../../integrations/trackstory/index.ts";
import { eventually } from "../support/harness.ts";
import { startTestInstance, TOKENS, type TestInstance, type TestInstanceOptions } from "../support/instance.ts";

export const BASE = "/driver/v1/contractor-mentorship/v1";
export const DAY = 86_400_000;
export const MATCH_IMPORT_MS = 60_000;
export const PROGRESS_IMPORT_MS = 3_600_000;
export const PROMOCODE_IMPORT_MS = 3_600_000;
export const RETRY_BASE_MS = 1_000;
export const RETENTION_SWEEP_MS = 3_600_000;

/** Mentorship's settings for tests: every job and retry on the test's clock, the CRM ticked by hand. */
export const mentorshipEnv = {
  PARTNER_TIMEOUT_MS: "1000",
  PARTNER_RETRIES: "0",
  CRM_SIMULATOR_MENTORS: "park-m/m1",
  // Far on the real clock: the test ticks the CRM itself, at the times it chooses.
  CRM_SIMULATOR_TICK_MS: "3600000",
  MENTORSHIP_RETRY_BASE_MS: String(RETRY_BASE_MS),
  MENTORSHIP_RETRY_MAX_MS: "60000",
  MENTORSHIP_MATCH_IMPORT_MS: String(MATCH_IMPORT_MS),
  MENTORSHIP_PROGRESS_IMPORT_MS: String(PROGRESS_IMPORT_MS),
  MENTORSHIP_PROMOCODE_IMPORT_MS: String(PROMOCODE_IMPORT_MS),
  // Small pages, so that the imports cross page boundaries with a handful of matchings.
  MENTORSHIP_IMPORT_PAGE_SIZE: "2",
  MENTORSHIP_RETENTION_SWEEP_MS: String(RETENTION_SWEEP_MS),
};

export interface Person {
  park_id: string;
  driver_id: string;
  name: string;
  phone: string;
}

export interface MentorshipApp {
  app: TestInstance;
  clock: ManualClock;
  /** Creates the person's profiles (all bindings share one licence), phone and a position in Moscow. */
  person(name: string, phone: string, bindings: readonly [string, string][], options?: { rented?: boolean }): Person;
  call(person: { park_id: string; driver_id: string }, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Moves the runtime clock; due durable timers fire at once. */
  advance(ms: number): void;
  /**
   * Runs a singleton job once more: waits for it to be idle with its next tick ahead (due within
   * its period), moves the clock by that period and waits for the run to be committed.
   */
  runJob(name: "match-import" | "progress-import" | "promocode-import" | "retention", everyMs: number): Promise<void>;
  /** The CRM's own work as of `now + aheadMs` (pairing, progress, promocodes). */
  crmTick(aheadMs?: number): Promise<unknown>;
  statusOf(matchingId: string): Promise<string | undefined>;
  /** Waits for the matching's status; a retry it waits for meanwhile is fired (the clock moved to it). */
  waitFor(matchingId: string, status: string | readonly string[]): Promise<void>;
  /** Notifications client-events delivered under `key`. */
  delivered(key: string): { park_id: string; driver_id: string; event: string }[];
  resetFaults(): void;
  close(): Promise<void>;
}

let licences = 0;

export async function startMentorshipApp(env: Record<string, string> = {}, options: TestInstanceOptions = {}): Promise<MentorshipApp> {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock(Date.parse("2026-03-02T09:00:00Z"));
  const app = await startTestInstance({ ...mentorshipEnv, ...env }, { ...options, clock });
  const sims = app.simulators;
  /** When the actor's durable timer `key` is due (runtime clock), if it is set. */
  const timerDue = async (type: string, id: string, key: string) =>
    (
      await app.db.sql<{ due_at: Date }[]>`
      select due_at from actor_timers where actor_type = ${type} and actor_id = ${id} and timer_key = ${key}`
    )[0]?.due_at.getTime();
  const snapshotOf = async <Context>(type: string, id: string) =>
    (
      await app.db.sql<
        { snapshot: { value: unknown; context: Context } }[]
      >`select snapshot from actor_snapshots where actor_type = ${type} and actor_id = ${id}`
    )[0]?.snapshot;
  // A partner call can fail on this shared machine for reasons of its own (its timeout is on the
  // real clock); the matching then waits for its durable retry on the test's clock, which only
  // the test moves. Moving it to that retry is what time would do in production.
  const fireRetry = async (id: string) => {
    const due = await timerDue("matching", id, "retry");
    if (due !== undefined && due > clock.now()) clock.advance(due - clock.now());
  };
  const statusOf = async (id: string) => (await app.db.sql<{ status: string }[]>`select status from matchings where id = ${id}`)[0]?.status;
  return {
    app,
    clock,
    person(name, phone, bindings, { rented = false } = {}) {
      const licence = `pd-licence-${++licences}-${name.replace(/\W/g, "")}`;
      const phone_pd_id = sims.mentorPersonal!.preload("phones", phone);
      for (const [park_id, driver_id] of bindings) {
        sims.mentorProfiles!.upsert([{ park_id, driver_id, driver_license_pd_id: licence, phone_pd_id, name }]);
        sims.mentorTrackstory!.move([{ park_id, driver_id, ...pointIn("moscow") }]);
        sims.fleetRent!.set([{ park_id, driver_id, rented }]);
      }
      const [park_id, driver_id] = bindings[0]!;
      return { park_id, driver_id, name, phone };
    },
    call: (person, method, path, body) =>
      app.call(method, `${BASE}${path}`, {
        token: TOKENS.driver,
        headers: { "x-yataxi-park-id": person.park_id, "x-yataxi-driver-profile-id": person.driver_id },
        ...(body === undefined ? {} : { body }),
      }),
    advance: (ms) => clock.advance(ms),
    async runJob(name, everyMs) {
      const job = () => snapshotOf<{ runs: number }>("mentorship-job", name);
      // Idle with its next tick still ahead: no run is under way or about to start at the old time.
      const before = await eventually(async () => {
        const s = await job();
        const tick = await timerDue("mentorship-job", name, "tick");
        return s?.value === "idle" && tick !== undefined && tick > clock.now() ? { runs: s.context.runs } : undefined;
      });
      clock.advance(everyMs);
      await eventually(async () => ((await job())?.context.runs ?? 0) > before.runs);
    },
    crmTick: (aheadMs = 0) => sims.crm!.tick(new Date(clock.now() + aheadMs)),
    statusOf,
    async waitFor(id, status) {
      try {
        await eventually(async () => {
          if ([status].flat().includes((await statusOf(id)) ?? "")) return true;
          await fireRetry(id);
          return false;
        });
      } catch (error) {
        const actor = await snapshotOf<{ last_error: string | null }>("matching", id);
        const where = actor ? `; the matching is in ${JSON.stringify(actor.value)}, last error: ${actor.context.last_error}` : "";
        throw new Error(`matching ${id} not ${status}: ${String(error)}${where}`);
      }
    },
    delivered: (key) => sims.clientEvents!.delivered().filter((n) => n.idempotency_key === key),
    resetFaults() {
      for (const sim of [sims.mentorProfiles, sims.mentorPersonal, sims.mentorTrackstory, sims.fleetRent, sims.clientEvents])
        Object.assign(sim!.faults, noFaults());
      Object.assign(sims.crm!.faults, { unavailable: false, lostReplies: false });
    },
    close: () => app.close(),
  };
}
