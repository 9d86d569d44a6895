// The driver-status service's own settings (partners, KRT, caches, history, blocking), decoded
// with Schema from the environment; the status stream's STATUS_* are streams/status/config.ts's.
import { Schema } from "effect";
import { randomUUID } from "node:crypto";
import { invalidConfiguration, decodeEnv, PositiveInt, Url, type Env } from "../../config.ts";

const Ms = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0));

const DriverStatusEnv = Schema.Struct({
  KRT_URL: Schema.optional(Url),
  KRT_CLIENT_ID: Schema.optional(Schema.NonEmptyString),
  KRT_CLIENT_SECRET: Schema.optional(Schema.NonEmptyString),
  KRT_RATE_LIMIT_PER_S: Schema.optional(PositiveInt),
  KRT_QUEUE_MAX: Schema.optional(PositiveInt),
  KRT_QUEUE_WAIT_MS: Schema.optional(PositiveInt),
  KRT_TOKEN_REFRESH_MARGIN_MS: Schema.optional(Ms),
  KRT_RETRY_BASE_MS: Schema.optional(PositiveInt),
  KRT_RETRY_MAX_MS: Schema.optional(PositiveInt),
  DRIVER_PROFILES_URL: Schema.optional(Url),
  DRIVER_CATEGORIES_URL: Schema.optional(Url),
  TRACKSTORY_URL: Schema.optional(Url),
  PERSONAL_URL: Schema.optional(Url),
  DRIVER_CACHE_REFRESH_MS: Schema.optional(PositiveInt),
  SESSION_HISTORY_DAYS: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 30 }))),
  CAN_TAKE_ORDERS_BLOCKING: Schema.optional(Schema.Literals(["true", "false"])),
});

export interface DriverStatusConfig {
  /** Partner URLs; unset: a simulator is started in-process. */
  readonly urls: {
    readonly krt: string | undefined;
    readonly driverProfiles: string | undefined;
    readonly driverCategories: string | undefined;
    readonly trackstory: string | undefined;
    readonly personal: string | undefined;
  };
  readonly krt: {
    readonly clientId: string;
    readonly clientSecret: string;
    readonly ratePerSecond: number;
    /**
     * KRT_QUEUE_MAX, KRT_QUEUE_WAIT_MS: an id check beyond either bound of the rate limit's queue is
     * refused (503 `krt_busy`); connectivity reports wait behind the checks, unbounded.
     */
    readonly rateQueue: { readonly maxQueue: number; readonly maxWaitMs: number };
    readonly refreshMarginMs: number;
    /** The krt-session kind's backoff: the first delay, doubling per failed report up to `maxMs`. */
    readonly retry: { readonly baseMs: number; readonly maxMs: number };
  };
  readonly cacheRefreshMs: number;
  readonly sessionHistoryDays: number;
  /** Stage 2 (CAN_TAKE_ORDERS_BLOCKING=true): consumers block drivers who may not take orders. */
  readonly blocking: boolean;
}

/**
 * The service's settings from the environment; throws ConfigError naming every bad variable.
 * @example const config = driverStatusConfig(process.env)
 */
export function driverStatusConfig(env: Env): DriverStatusConfig {
  const e = decodeEnv(DriverStatusEnv, env);
  // A real KRT needs the secret it issued; a simulated one is started with whatever secret this is.
  if (e.KRT_URL && !e.KRT_CLIENT_SECRET) throw invalidConfiguration(["KRT_CLIENT_SECRET: required when KRT_URL is set"]);
  return {
    urls: {
      krt: e.KRT_URL,
      driverProfiles: e.DRIVER_PROFILES_URL,
      driverCategories: e.DRIVER_CATEGORIES_URL,
      trackstory: e.TRACKSTORY_URL,
      personal: e.PERSONAL_URL,
    },
    krt: {
      clientId: e.KRT_CLIENT_ID ?? "fleet",
      clientSecret: e.KRT_CLIENT_SECRET ?? randomUUID(),
      ratePerSecond: e.KRT_RATE_LIMIT_PER_S ?? 200,
      rateQueue: { maxQueue: e.KRT_QUEUE_MAX ?? 1_000, maxWaitMs: e.KRT_QUEUE_WAIT_MS ?? 5_000 },
      refreshMarginMs: e.KRT_TOKEN_REFRESH_MARGIN_MS ?? 60_000,
      retry: { baseMs: e.KRT_RETRY_BASE_MS ?? 1_000, maxMs: e.KRT_RETRY_MAX_MS ?? 60_000 },
    },
    cacheRefreshMs: e.DRIVER_CACHE_REFRESH_MS ?? 5_000,
    sessionHistoryDays: e.SESSION_HISTORY_DAYS ?? 7,
    blocking: e.CAN_TAKE_ORDERS_BLOCKING === "true",
  };
}
