// The mentorship service's slice of the environment, decoded with Schema at start-up; a bad value
// stops the process with a message naming the variable.
import { Schema } from "effect";
import { decodeEnv, PositiveInt, Url, type Env } from "../../config.ts";
import type { RetentionPolicy } from "./jobs.ts";
import type { MatchingPolicy } from "./matchingKind.ts";

const Days = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 3650 }));
const Mentors = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9._:-]+\/[A-Za-z0-9._:-]+(,[A-Za-z0-9._:-]+\/[A-Za-z0-9._:-]+)*$/, {
    message: "expected park_id/driver_id pairs separated by commas",
  }),
);

const MentorshipEnv = Schema.Struct({
  /** Unset: each partner's simulator is started (driver-profiles, personal and trackstory as mentorship's own). */
  DRIVER_PROFILES_URL: Schema.optional(Url),
  PERSONAL_URL: Schema.optional(Url),
  TRACKSTORY_URL: Schema.optional(Url),
  FLEET_RENT_URL: Schema.optional(Url),
  CLIENT_EVENTS_URL: Schema.optional(Url),
  CRM_SCHEMA: Schema.optional(Schema.String.check(Schema.isPattern(/^[a-z_][a-z0-9_]{0,62}$/, { message: "expected a lowercase Postgres schema name" }))),
  CRM_SIMULATOR: Schema.optional(Schema.Literals(["true", "false"])),
  CRM_SIMULATOR_MENTORS: Schema.optional(Mentors),
  CRM_SIMULATOR_TICK_MS: Schema.optional(PositiveInt),
  MENTORSHIP_RETRY_BASE_MS: Schema.optional(PositiveInt),
  MENTORSHIP_RETRY_MAX_MS: Schema.optional(PositiveInt),
  MENTORSHIP_RECHECK_MS: Schema.optional(PositiveInt),
  MENTORSHIP_MATCH_IMPORT_MS: Schema.optional(PositiveInt),
  MENTORSHIP_PROMOCODE_IMPORT_MS: Schema.optional(PositiveInt),
  MENTORSHIP_RETENTION_SWEEP_MS: Schema.optional(PositiveInt),
  MENTORSHIP_ARCHIVE_AFTER_DAYS: Schema.optional(Days),
  MENTORSHIP_KEEP_ARCHIVED_DAYS: Schema.optional(Days),
});

export interface MentorshipConfig {
  readonly urls: {
    readonly driverProfiles: string | undefined;
    readonly personal: string | undefined;
    readonly trackstory: string | undefined;
    readonly fleetRent: string | undefined;
    readonly clientEvents: string | undefined;
  };
  /** The CRM tables' Postgres schema (in the service's database). */
  readonly crmSchema: string;
  /** A CRM simulator pairs, reports progress and issues promocodes in those tables (off: the real CRM does). */
  readonly crmSimulator: { readonly enabled: boolean; readonly mentors: readonly { park_id: string; driver_id: string }[]; readonly tickMs: number };
  readonly policy: MatchingPolicy;
  /** How often each singleton job runs (runtime clock). */
  readonly every: { readonly matchImport: number; readonly promocodeImport: number; readonly retention: number };
  readonly retention: RetentionPolicy;
}

/**
 * Decodes the mentorship variables; throws ConfigError naming every bad one.
 * @example const { policy } = mentorshipConfig(process.env, { demoData: true, simulateCrm: true })
 */
export function mentorshipConfig(env: Env, options: { demoData: boolean; simulateCrm: boolean }): MentorshipConfig {
  const e = decodeEnv(MentorshipEnv, env);
  const mentors = e.CRM_SIMULATOR_MENTORS ?? (options.demoData ? "park-1/mentor-1" : undefined);
  return {
    urls: {
      driverProfiles: e.DRIVER_PROFILES_URL,
      personal: e.PERSONAL_URL,
      trackstory: e.TRACKSTORY_URL,
      fleetRent: e.FLEET_RENT_URL,
      clientEvents: e.CLIENT_EVENTS_URL,
    },
    crmSchema: e.CRM_SCHEMA ?? "crm",
    crmSimulator: {
      enabled: e.CRM_SIMULATOR === undefined ? options.simulateCrm : e.CRM_SIMULATOR === "true",
      mentors: (mentors?.split(",") ?? []).map((pair) => {
        const [park_id, driver_id] = pair.split("/") as [string, string];
        return { park_id, driver_id };
      }),
      tickMs: e.CRM_SIMULATOR_TICK_MS ?? 2_000,
    },
    policy: {
      retryBaseMs: e.MENTORSHIP_RETRY_BASE_MS ?? 1_000,
      retryMaxMs: e.MENTORSHIP_RETRY_MAX_MS ?? 3_600_000,
      recheckMs: e.MENTORSHIP_RECHECK_MS ?? 3_600_000,
    },
    every: {
      matchImport: e.MENTORSHIP_MATCH_IMPORT_MS ?? 5_000,
      promocodeImport: e.MENTORSHIP_PROMOCODE_IMPORT_MS ?? 86_400_000,
      retention: e.MENTORSHIP_RETENTION_SWEEP_MS ?? 3_600_000,
    },
    retention: { archiveAfterDays: e.MENTORSHIP_ARCHIVE_AFTER_DAYS ?? 21, keepArchivedDays: e.MENTORSHIP_KEEP_ARCHIVED_DAYS ?? 90 },
  };
}
