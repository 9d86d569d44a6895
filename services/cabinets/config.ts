// The cabinets service's slice of the environment: MQTT, polling, unlock timeout and booking
// policy, decoded with Schema (a bad value stops the start with a message naming the variable).
import { Schema } from "effect";
import { decodeEnv, PositiveInt, Url, type Env } from "../../config.ts";

const NonNegativeInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0));
const Share = Schema.NumberFromString.check(Schema.isBetween({ minimum: 0, maximum: 1 }));
const CabinetEnv = Schema.Struct({
  MQTT_URL: Schema.optional(Url),
  MQTT_TOPIC_PREFIX: Schema.optional(Schema.String.check(Schema.isPattern(/^[^#+\s]*$/, { message: "expected a topic prefix without wildcards or spaces" }))),
  CABINET_POLL_MS: Schema.optional(PositiveInt),
  CABINET_POLL_JITTER: Schema.optional(Share),
  CABINET_POLL_CONCURRENCY: Schema.optional(PositiveInt),
  CABINET_MISSED_POLLS: Schema.optional(PositiveInt),
  CABINET_COMMAND_TIMEOUT_MS: Schema.optional(PositiveInt),
  CABINET_REPORT_HEARTBEAT_MS: Schema.optional(NonNegativeInt),
  BOOKING_TTL_MS: Schema.optional(PositiveInt),
  CHARGED_MIN_CHARGE: Schema.optional(Schema.NumberFromString.check(Schema.isBetween({ minimum: 0, maximum: 100 }))),
});

export interface CabinetsConfig {
  /** MQTT_URL; unset: an embedded broker (with simulated cabinets when DEMO_DATA is on). */
  mqttUrl: string | undefined;
  /** MQTT_TOPIC_PREFIX, put before `$devices/<cabinet_id>/...`. */
  topicPrefix: string;
  /** CABINET_POLL_MS: every cabinet is polled this often. */
  pollMs: number;
  /** CABINET_POLL_JITTER: each next poll comes pollMs × (1 ± jitter) later. */
  pollJitter: number;
  /** CABINET_POLL_CONCURRENCY: polls in flight at once per instance. */
  pollConcurrency: number;
  /** CABINET_MISSED_POLLS: missed in a row that make a cabinet unresponsive. */
  missedPolls: number;
  /** CABINET_COMMAND_TIMEOUT_MS: how long an unlock waits for the cabinet's answer. */
  commandTimeoutMs: number;
  /** CABINET_REPORT_HEARTBEAT_MS: an unchanged report reaches the actor at least this often; 0: every one. */
  reportHeartbeatMs: number;
  /** BOOKING_TTL_MS: a booking not opened by then frees its cells. */
  bookingTtlMs: number;
  /** CHARGED_MIN_CHARGE: charge (%) that counts as charged when a request names none. */
  chargedMinCharge: number;
}

/**
 * Decodes the cabinet variables with their defaults; throws ConfigError naming every bad one.
 * @example const config = cabinetsConfig(ctx.config.env)
 */
export function cabinetsConfig(env: Env): CabinetsConfig {
  const e = decodeEnv(CabinetEnv, env);
  return {
    mqttUrl: e.MQTT_URL,
    topicPrefix: e.MQTT_TOPIC_PREFIX ?? "",
    pollMs: e.CABINET_POLL_MS ?? 10_000,
    pollJitter: e.CABINET_POLL_JITTER ?? 0.1,
    pollConcurrency: e.CABINET_POLL_CONCURRENCY ?? 200,
    missedPolls: e.CABINET_MISSED_POLLS ?? 3,
    commandTimeoutMs: e.CABINET_COMMAND_TIMEOUT_MS ?? 5_000,
    reportHeartbeatMs: e.CABINET_REPORT_HEARTBEAT_MS ?? 60_000,
    bookingTtlMs: e.BOOKING_TTL_MS ?? 15 * 60_000,
    chargedMinCharge: e.CHARGED_MIN_CHARGE ?? 80,
  };
}
