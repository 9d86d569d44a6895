// Instance configuration: environment variables decoded with Schema at start-up. A bad value
// stops the process with a message naming the variable.
import { Result, Schema, SchemaIssue } from "effect";

export const Port = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 65535 }));
export const PositiveInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThan(0));
export const Url = Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9+.-]*:\/\/\S+$/i, { message: "expected a URL" }));
const Role = Schema.Literals(["fleet", "internal", "driver", "admin"]);
export type Role = typeof Role.Type;

/** `fleet=abc,internal=def`: every pair role=token, roles from the known set, tokens non-empty. */
const AuthTokens = Schema.String.check(
  Schema.isPattern(/^(fleet|internal|driver|admin)=[^,=\s]+(,(fleet|internal|driver|admin)=[^,=\s]+)*$/, {
    message: "expected comma-separated role=token pairs with roles fleet, internal, driver, admin",
  }),
);

const InstanceEnv = Schema.Struct({
  PORT: Schema.optional(Port),
  HOST: Schema.optional(Schema.String),
  INSTANCE_ID: Schema.optional(Schema.NonEmptyString),
  DATABASE_URL: Schema.optional(Url),
  DATA_DIR: Schema.optional(Schema.NonEmptyString),
  NATS_URL: Schema.optional(Url),
  CLUSTER_NAME: Schema.optional(Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9_-]{0,31}$/, { message: "expected a lowercase name like fleet" }))),
  SHARD_COUNT: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 4096 }))),
  CLUSTER_LEASE_MS: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 500, maximum: 600_000 }))),
  AUTH_TOKENS: Schema.optional(AuthTokens),
  LOG_LEVEL: Schema.optional(Schema.Literals(["info", "warn", "error", "silent"])),
  HTTP_BODY_LIMIT_BYTES: Schema.optional(PositiveInt),
  ASK_TIMEOUT_MS: Schema.optional(PositiveInt),
  PASSIVATE_AFTER_MS: Schema.optional(PositiveInt),
  JOURNAL_RETENTION_DAYS: Schema.optional(PositiveInt),
  PARTNER_TIMEOUT_MS: Schema.optional(PositiveInt),
  PARTNER_RETRIES: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 10 }))),
  DEMO_DATA: Schema.optional(Schema.Literals(["true", "false"])),
  STOP_TIMEOUT_MS: Schema.optional(PositiveInt),
  IDEMPOTENCY_LEASE_MS: Schema.optional(PositiveInt),
});

export interface Config {
  port: number;
  host: string;
  instanceId: string;
  /** Unset: embedded PGlite under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Set: join the cluster over NATS; unset: embedded, in-process transport. */
  cluster: { natsUrl: string; name: string; shardCount: number; leaseMs: number } | undefined;
  /** Role -> token. `generatedTokens` says they were made up at start (embedded, AUTH_TOKENS unset). */
  tokens: Map<Role, string>;
  generatedTokens: boolean;
  /** The whole environment, for services decoding their own variables (`decodeEnv`). */
  env: Env;
  partnerTimeoutMs: number;
  partnerRetries: number;
  logLevel: "info" | "warn" | "error" | "silent";
  bodyLimitBytes: number;
  askTimeoutMs: number;
  passivateAfterMs: number;
  journalRetentionDays: number;
  demoData: boolean;
  /** SIGTERM: how long the graceful stop may take before the process exits with code 1. */
  stopTimeoutMs: number;
  /** How long a request holds its Idempotency-Key before a retry may take it over (a crashed attempt). */
  idempotencyLeaseMs: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type Env = Record<string, string | undefined>;

/**
 * Decodes the variables `schema` names from the environment (empty counts as unset); throws
 * ConfigError naming every bad variable. Services decode their own variables with it.
 * @example const { MAILING_BATCH_SIZE } = decodeEnv(Schema.Struct({ MAILING_BATCH_SIZE: Schema.optional(PositiveInt) }), env)
 */
export function decodeEnv<S extends Schema.Decoder<unknown> & { readonly fields: object }>(schema: S, env: Env): S["Type"] {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in schema.fields && v !== undefined && v !== ""));
  const decoded = Schema.decodeUnknownResult(schema, { errors: "all" })(present);
  if (Result.isFailure(decoded)) {
    const issues = SchemaIssue.makeFormatterStandardSchemaV1()(decoded.failure.issue).issues;
    const lines = issues.map((i) => `${i.path?.join(".")}: ${i.message} (got ${JSON.stringify(present[String(i.path?.[0])])})`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  return decoded.success as S["Type"];
}

/**
 * Decodes the instance's own variables; throws ConfigError naming every bad one.
 * @example const config = loadConfig(process.env)
 */
export function loadConfig(env: Env, makeToken: () => string = randomToken): Config {
  const e = decodeEnv(InstanceEnv, env);
  const tokens = new Map<Role, string>();
  for (const pair of e.AUTH_TOKENS?.split(",") ?? []) {
    const [role, token] = pair.split("=") as [Role, string];
    tokens.set(role, token);
  }
  const generatedTokens = tokens.size === 0;
  if (generatedTokens) for (const role of Role.literals) tokens.set(role, makeToken());
  return {
    port: e.PORT ?? 8080,
    host: e.HOST ?? "127.0.0.1",
    instanceId: e.INSTANCE_ID ?? `fleet-${process.pid}`,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR ?? ".data",
    cluster: e.NATS_URL
      ? { natsUrl: e.NATS_URL, name: e.CLUSTER_NAME ?? "fleet", shardCount: e.SHARD_COUNT ?? 256, leaseMs: e.CLUSTER_LEASE_MS ?? 5_000 }
      : undefined,
    tokens,
    generatedTokens,
    env,
    partnerTimeoutMs: e.PARTNER_TIMEOUT_MS ?? 2_000,
    partnerRetries: e.PARTNER_RETRIES ?? 2,
    logLevel: e.LOG_LEVEL ?? "info",
    bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES ?? 256 * 1024,
    askTimeoutMs: e.ASK_TIMEOUT_MS ?? 5_000,
    passivateAfterMs: e.PASSIVATE_AFTER_MS ?? 10 * 60_000,
    journalRetentionDays: e.JOURNAL_RETENTION_DAYS ?? 7,
    demoData: (e.DEMO_DATA ?? "true") === "true",
    stopTimeoutMs: e.STOP_TIMEOUT_MS ?? 20_000,
    idempotencyLeaseMs: e.IDEMPOTENCY_LEASE_MS ?? 30_000,
  };
}

function randomToken(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
