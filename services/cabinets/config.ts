// The cabinets service's slice of the environment: MQTT (with its TLS and login), polling, unlock
// timeout and booking policy, decoded with Schema (a bad value stops the start with a message
// naming the variable; secrets are never echoed).
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { createSecureContext } from "node:tls";
import { Schema } from "effect";
import { invalidConfiguration, decodeEnv, PositiveInt, ReadableFile, Url, type Env } from "../../config.ts";
import { isTlsUrl, type MqttAuth } from "../../integrations/cabinet/index.ts";

const NonNegativeInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0));
const Share = Schema.NumberFromString.check(Schema.isBetween({ minimum: 0, maximum: 1 }));
const CabinetEnv = Schema.Struct({
  MQTT_URL: Schema.optional(Url),
  MQTT_TOPIC_PREFIX: Schema.optional(Schema.String.check(Schema.isPattern(/^[^#+\s]*$/, { message: "expected a topic prefix without wildcards or spaces" }))),
  MQTT_CA_FILE: Schema.optional(ReadableFile),
  MQTT_CERT_FILE: Schema.optional(ReadableFile),
  MQTT_KEY_FILE: Schema.optional(ReadableFile),
  MQTT_USERNAME: Schema.optional(Schema.String),
  // Any string passes, so a decode error can never print it.
  MQTT_PASSWORD: Schema.optional(Schema.String),
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
  /** MQTT_CA_FILE, MQTT_CERT_FILE + MQTT_KEY_FILE (contents), MQTT_USERNAME + MQTT_PASSWORD. */
  mqttAuth: MqttAuth;
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
  /**
   * CABINET_REPORT_HEARTBEAT_MS: an unchanged report reaches the actor at least this often; 0:
   * every one. The others move only the row's `last_report_at` (see devices.ts).
   */
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
    mqttAuth: mqttAuth(e),
    topicPrefix: e.MQTT_TOPIC_PREFIX ?? "",
    pollMs: e.CABINET_POLL_MS ?? 10_000,
    pollJitter: e.CABINET_POLL_JITTER ?? 0.1,
    pollConcurrency: e.CABINET_POLL_CONCURRENCY ?? 200,
    missedPolls: e.CABINET_MISSED_POLLS ?? 3,
    commandTimeoutMs: e.CABINET_COMMAND_TIMEOUT_MS ?? 5_000,
    reportHeartbeatMs: e.CABINET_REPORT_HEARTBEAT_MS ?? 600_000,
    bookingTtlMs: e.BOOKING_TTL_MS ?? 15 * 60_000,
    chargedMinCharge: e.CHARGED_MIN_CHARGE ?? 80,
  };
}

/**
 * The broker's TLS and login: the files read, their PEM checked, and the variables that only make
 * sense together (a certificate and its key, a username and its password, TLS files and an
 * `mqtts://` MQTT_URL) checked together. Throws ConfigError naming every variable at fault.
 */
function mqttAuth(e: typeof CabinetEnv.Type): MqttAuth {
  const problems: string[] = [];
  const pairs = [
    ["MQTT_CERT_FILE", "MQTT_KEY_FILE", "a client certificate needs its key"],
    ["MQTT_USERNAME", "MQTT_PASSWORD", "a login is a username and a password"],
  ] as const;
  for (const [a, b, why] of pairs) {
    if (e[a] !== undefined && e[b] === undefined) problems.push(`${b}: required with ${a} (${why})`);
    if (e[b] !== undefined && e[a] === undefined) problems.push(`${a}: required with ${b} (${why})`);
  }
  const set = (names: readonly (keyof typeof e)[]) => names.filter((n) => e[n] !== undefined);
  const tlsVars = set(["MQTT_CA_FILE", "MQTT_CERT_FILE", "MQTT_KEY_FILE"]);
  const authVars = set(["MQTT_CA_FILE", "MQTT_CERT_FILE", "MQTT_KEY_FILE", "MQTT_USERNAME", "MQTT_PASSWORD"]);
  if (authVars.length > 0 && e.MQTT_URL === undefined) {
    problems.push(`MQTT_URL: required with ${authVars.join(", ")} (the embedded broker has no TLS or login)`);
  } else if (tlsVars.length > 0 && !isTlsUrl(e.MQTT_URL!)) {
    problems.push(`MQTT_URL: expected an mqtts:// URL with ${tlsVars.join(", ")}`);
  }
  // Readable: ReadableFile checked them.
  const auth: MqttAuth = {};
  if (e.MQTT_CA_FILE !== undefined) auth.ca = readFileSync(e.MQTT_CA_FILE);
  if (e.MQTT_CERT_FILE !== undefined && e.MQTT_KEY_FILE !== undefined) {
    auth.cert = readFileSync(e.MQTT_CERT_FILE);
    auth.key = readFileSync(e.MQTT_KEY_FILE);
  }
  if (auth.ca) {
    try {
      new X509Certificate(auth.ca);
    } catch (error) {
      problems.push(`MQTT_CA_FILE: expected a PEM certificate (${errorMessage(error)})`);
    }
  }
  if (auth.cert && auth.key) {
    try {
      createSecureContext({ cert: auth.cert, key: auth.key });
    } catch (error) {
      problems.push(`MQTT_CERT_FILE, MQTT_KEY_FILE: expected a PEM certificate and its private key (${errorMessage(error)})`);
    }
  }
  if (e.MQTT_USERNAME !== undefined && e.MQTT_PASSWORD !== undefined) Object.assign(auth, { username: e.MQTT_USERNAME, password: e.MQTT_PASSWORD });
  if (problems.length > 0) throw invalidConfiguration(problems);
  return auth;
}

// OpenSSL's reasons name what is wrong with a PEM, never its contents.
const errorMessage = (error: unknown) => (error as Error).message ?? String(error);
