// Instance configuration: environment variables decoded with Schema at start-up. A bad value
// stops the process with a message naming the variable.
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { Result, Schema, SchemaIssue } from "effect";

export const Port = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 65535 }));
export const PositiveInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThan(0));
export const Url = Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9+.-]*:\/\/\S+$/i, { message: "expected a URL" }));
/** A file this process can read, checked at start so a wrong path stops it naming the variable. */
export const ReadableFile = Schema.String.check(Schema.makeFilter((path: string) => unreadable(path) ?? true));
const Role = Schema.Literals(["fleet", "internal", "driver", "admin"]);
export type Role = typeof Role.Type;

/**
 * `fleet=abc,internal=def`: every pair role=token, roles from the known set, tokens non-empty;
 * several tokens of one role (while rotating) joined with `|`: `fleet=new|old`.
 */
const AuthTokens = Schema.String.check(
  Schema.isPattern(/^(fleet|internal|driver|admin)=[^,=|\s]+(\|[^,=|\s]+)*(,(fleet|internal|driver|admin)=[^,=|\s]+(\|[^,=|\s]+)*)*$/, {
    message: "expected comma-separated role=token pairs with roles fleet, internal, driver, admin (several tokens of a role joined with |)",
  }),
);
/** Outside embedded mode a token is a secret: long enough not to be guessed. */
export const MIN_TOKEN_LENGTH = 32;
/** `all`, `none`, or the partners whose built-in simulator may start when their URL is unset. */
const Simulators = Schema.String.check(
  Schema.isPattern(/^(all|none|[a-z][a-z-]*(,[a-z][a-z-]*)*)$/, { message: "expected all, none, or comma-separated partner names like krt,personal" }),
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
  INSPECT_MAX_PER_S: Schema.optional(PositiveInt),
  INSPECT_STATELY_URL: Schema.optional(Schema.String.check(Schema.isPattern(/^wss?:\/\/[^\s]+$/, { message: "expected a ws:// or wss:// URL" }))),
  PASSIVATE_AFTER_MS: Schema.optional(PositiveInt),
  SLEEP_AFTER_MS: Schema.optional(PositiveInt),
  JOURNAL_RETENTION_DAYS: Schema.optional(PositiveInt),
  PARTNER_TIMEOUT_MS: Schema.optional(PositiveInt),
  PARTNER_RETRIES: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 10 }))),
  DEMO_DATA: Schema.optional(Schema.Literals(["true", "false"])),
  STOP_TIMEOUT_MS: Schema.optional(PositiveInt),
  IDEMPOTENCY_LEASE_MS: Schema.optional(PositiveInt),
  REQUEST_TIMEOUT_MS: Schema.optional(PositiveInt),
  DB_STATEMENT_TIMEOUT_MS: Schema.optional(PositiveInt),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: Schema.optional(PositiveInt),
  SIMULATORS: Schema.optional(Simulators),
  NATS_CREDS_FILE: Schema.optional(ReadableFile),
  NATS_USER: Schema.optional(Schema.NonEmptyString),
  // Any string passes, so a decode error can never print a secret.
  NATS_PASSWORD: Schema.optional(Schema.String),
  NATS_TOKEN: Schema.optional(Schema.String),
  NATS_TLS_CA: Schema.optional(ReadableFile),
  NATS_TLS_CERT: Schema.optional(ReadableFile),
  NATS_TLS_KEY: Schema.optional(ReadableFile),
});

export interface Config {
  port: number;
  host: string;
  instanceId: string;
  /** Unset: embedded PGlite under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /**
   * NATS_CREDS_FILE | NATS_USER + NATS_PASSWORD | NATS_TOKEN, NATS_TLS_*: how every NATS connection
   * logs in and what it trusts (file contents, never paths; actors/transport/natsConnection.ts).
   */
  natsAuth: ReturnType<typeof natsAuth>;
  /** Set: join the cluster over NATS; unset: embedded, in-process transport. */
  cluster: { natsUrl: string; name: string; shardCount: number; leaseMs: number } | undefined;
  /**
   * `embedded`: no DATABASE_URL and no NATS_URL, a friendly local run (generated tokens, every
   * partner simulated). `production`: any real backend, safe by default (AUTH_TOKENS required and
   * never printed, simulators only when named in SIMULATORS).
   */
  mode: "embedded" | "production";
  /** Role -> its tokens (several while rotating). `generatedTokens`: made up at start (embedded, AUTH_TOKENS unset). */
  tokens: ReadonlyMap<Role, readonly string[]>;
  generatedTokens: boolean;
  /** Partners (by name, e.g. `krt`) whose simulator starts when their URL is unset. */
  simulators: { readonly all: boolean; readonly names: ReadonlySet<string> };
  /** The whole environment, for services decoding their own variables (`decodeEnv`). */
  env: Env;
  partnerTimeoutMs: number;
  partnerRetries: number;
  logLevel: "info" | "warn" | "error" | "silent";
  bodyLimitBytes: number;
  askTimeoutMs: number;
  /** Transitions an instance publishes a second at most while the inspector watches. */
  inspectMaxPerSecond: number;
  /** Stream inspection events in Stately's inspector protocol to this WebSocket (`@statelyai/inspect`). */
  inspectStatelyUrl: string | undefined;
  passivateAfterMs: number;
  /** Idle actors keep only their persisted snapshot in memory after this long (see ActorCell.sleep). */
  sleepAfterMs: number;
  journalRetentionDays: number;
  demoData: boolean;
  /** SIGTERM: how long the graceful stop may take before the process exits with code 1. */
  stopTimeoutMs: number;
  /** How long a request holds its Idempotency-Key before a retry may take it over (a crashed attempt). */
  idempotencyLeaseMs: number;
  /** A request not answered by then is 504 `request_timeout`; longer than askTimeoutMs. */
  requestTimeoutMs: number;
  /** Postgres ends a statement running longer, and a session idle inside a transaction longer. */
  databaseTimeouts: { statementMs: number; idleInTransactionMs: number };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** One error naming every problem, each `VARIABLE: what is wrong` (never its value). */
export const invalidConfiguration = (problems: readonly string[]): ConfigError => new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);

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
    // The value is never echoed: it may be a secret (a password in DATABASE_URL, a token).
    const lines = issues.map((i) => `${i.path?.join(".")}: ${i.message}`);
    throw invalidConfiguration(lines);
  }
  return decoded.success as S["Type"];
}

/**
 * Decodes the instance's own variables; throws ConfigError naming every bad one.
 * @example const config = loadConfig(process.env)
 */
/**
 * How long a silent instance keeps its shards. Renewed every quarter of it, so an event loop may
 * stall for up to three quarters (1.5 s) before others take over; a SIGKILLed instance's actors
 * answer again from a survivor after about this long (bench:cluster measures both).
 */
export const DEFAULT_CLUSTER_LEASE_MS = 2_000;
export const DEFAULT_SHARD_COUNT = 256;

export function loadConfig(env: Env, makeToken: () => string = randomToken): Config {
  const e = decodeEnv(InstanceEnv, env);
  const mode = e.DATABASE_URL || e.NATS_URL ? "production" : "embedded";
  const tokens = e.AUTH_TOKENS ? parseTokens(e.AUTH_TOKENS, mode) : undefined;
  if (!tokens && mode === "production")
    throw invalidConfiguration(["AUTH_TOKENS: required when DATABASE_URL or NATS_URL is set (role=token pairs, tokens of at least 32 characters)"]);
  const askTimeoutMs = e.ASK_TIMEOUT_MS ?? 5_000;
  const requestTimeoutMs = e.REQUEST_TIMEOUT_MS ?? Math.max(10_000, askTimeoutMs * 2);
  // An ask that times out answers 504 actor_timeout within the request's deadline, never after it.
  if (requestTimeoutMs <= askTimeoutMs)
    throw invalidConfiguration(["REQUEST_TIMEOUT_MS: must be longer than ASK_TIMEOUT_MS (a route waits for an actor's answer up to ASK_TIMEOUT_MS)"]);
  const simulators = e.SIMULATORS ?? (mode === "embedded" ? "all" : "none");
  return {
    mode,
    tokens: tokens ?? new Map(Role.literals.map((role) => [role, [makeToken()]])),
    generatedTokens: !tokens,
    simulators: { all: simulators === "all", names: new Set(simulators === "all" || simulators === "none" ? [] : simulators.split(",")) },
    port: e.PORT ?? 8080,
    host: e.HOST ?? "127.0.0.1",
    instanceId: e.INSTANCE_ID ?? `fleet-${process.pid}`,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR ?? ".data",
    cluster: e.NATS_URL
      ? {
          natsUrl: e.NATS_URL,
          name: e.CLUSTER_NAME ?? "fleet",
          shardCount: e.SHARD_COUNT ?? DEFAULT_SHARD_COUNT,
          leaseMs: e.CLUSTER_LEASE_MS ?? DEFAULT_CLUSTER_LEASE_MS,
        }
      : undefined,
    natsAuth: natsAuth(e, env),
    env,
    partnerTimeoutMs: e.PARTNER_TIMEOUT_MS ?? 2_000,
    partnerRetries: e.PARTNER_RETRIES ?? 2,
    logLevel: e.LOG_LEVEL ?? "info",
    bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES ?? 256 * 1024,
    askTimeoutMs,
    inspectMaxPerSecond: e.INSPECT_MAX_PER_S ?? 100,
    inspectStatelyUrl: e.INSPECT_STATELY_URL,
    requestTimeoutMs,
    passivateAfterMs: e.PASSIVATE_AFTER_MS ?? 10 * 60_000,
    sleepAfterMs: e.SLEEP_AFTER_MS ?? 30_000,
    journalRetentionDays: e.JOURNAL_RETENTION_DAYS ?? 7,
    demoData: (e.DEMO_DATA ?? "true") === "true",
    stopTimeoutMs: e.STOP_TIMEOUT_MS ?? 20_000,
    idempotencyLeaseMs: e.IDEMPOTENCY_LEASE_MS ?? 30_000,
    databaseTimeouts: { statementMs: e.DB_STATEMENT_TIMEOUT_MS ?? 30_000, idleInTransactionMs: e.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS ?? 60_000 },
  };
}

/** Unique tokens, across roles too (one token, one role); outside embedded mode each at least MIN_TOKEN_LENGTH long. */
function parseTokens(spec: string, mode: Config["mode"]): Map<Role, string[]> {
  const tokens = new Map<Role, string[]>();
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const pair of spec.split(",")) {
    const [role, list] = pair.split("=") as [Role, string];
    if (tokens.has(role)) problems.push(`role ${role} is given twice (join its tokens with |)`);
    const own = list.split("|");
    own.forEach((token, i) => {
      if (seen.has(token)) problems.push(`token ${i + 1} of ${role} is used more than once`);
      seen.add(token);
      if (mode === "production" && token.length < MIN_TOKEN_LENGTH) problems.push(`token ${i + 1} of ${role} is shorter than ${MIN_TOKEN_LENGTH} characters`);
    });
    tokens.set(role, [...(tokens.get(role) ?? []), ...own]);
  }
  if (problems.length) throw invalidConfiguration(problems.map((p) => `AUTH_TOKENS: ${p}`));
  return tokens;
}

/**
 * The NATS login (one kind of credentials at most: a creds file, a user and password, or a token)
 * and TLS files, read. Throws ConfigError naming every variable at fault, never a value.
 */
function natsAuth(e: typeof InstanceEnv.Type, env: Env) {
  const problems: string[] = [];
  if (e.NATS_USER !== undefined && e.NATS_PASSWORD === undefined) problems.push("NATS_PASSWORD: required with NATS_USER");
  if (e.NATS_PASSWORD !== undefined && e.NATS_USER === undefined) problems.push("NATS_USER: required with NATS_PASSWORD");
  if (e.NATS_TLS_CERT !== undefined && e.NATS_TLS_KEY === undefined)
    problems.push("NATS_TLS_KEY: required with NATS_TLS_CERT (a client certificate needs its key)");
  if (e.NATS_TLS_KEY !== undefined && e.NATS_TLS_CERT === undefined)
    problems.push("NATS_TLS_CERT: required with NATS_TLS_KEY (a client certificate needs its key)");
  const logins = (["NATS_CREDS_FILE", "NATS_USER", "NATS_TOKEN"] as const).filter((name) => e[name] !== undefined);
  if (logins.length > 1) problems.push(`${logins.join(", ")}: give one way to log in to NATS`);
  const given = (["NATS_CREDS_FILE", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN", "NATS_TLS_CA", "NATS_TLS_CERT", "NATS_TLS_KEY"] as const).filter(
    (name) => e[name] !== undefined,
  );
  if (given.length > 0 && !e.NATS_URL && !env.STATUS_NATS_URL) problems.push(`NATS_URL: required with ${given.join(", ")}`);
  if (problems.length > 0) throw invalidConfiguration(problems);
  // Readable: ReadableFile checked them.
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path, "utf8"));
  const tls = { ca: read(e.NATS_TLS_CA), cert: read(e.NATS_TLS_CERT), key: read(e.NATS_TLS_KEY) };
  return {
    ...(e.NATS_CREDS_FILE === undefined ? {} : { creds: read(e.NATS_CREDS_FILE) }),
    ...(e.NATS_USER === undefined ? {} : { user: e.NATS_USER, password: e.NATS_PASSWORD }),
    ...(e.NATS_TOKEN === undefined ? {} : { token: e.NATS_TOKEN }),
    ...(tls.ca || tls.cert ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) as typeof tls } : {}),
  };
}

/** Why `path` cannot be read as a file, or undefined when it can. */
function unreadable(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile() ? undefined : "expected a file";
  } catch (error) {
    return `cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

/**
 * hyper-express serves HTTP through uWebSockets binaries that the pinned build ships for Node 20
 * (ABI 115) and older; on any other Node it silently falls back to a JS server on a `ws` with
 * known CVEs, so a start there is refused. Returns why, or undefined when the runtime is the tested one.
 */
export function unsupportedRuntime(versions: { node: string; modules: string } = process.versions): string | undefined {
  return versions.modules === "115"
    ? undefined
    : `fleet-actors runs on Node 20 (ABI 115), the one its HTTP server's native binaries are built and tested for; this is Node ${versions.node} (ABI ${versions.modules})`;
}

/** The partner a URL variable names, as SIMULATORS spells it: DRIVER_PROFILES_URL -> driver-profiles. */
export function simulatedPartner(variable: string): string {
  return variable.replace(/_URL$/, "").toLowerCase().replaceAll("_", "-");
}

function randomToken(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
