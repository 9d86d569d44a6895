// Every route goes through here once: auth by role, identity headers, Schema decoding of path,
// query and body (400 naming the field), body limit, Idempotency-Key, metrics and errors.
import { createHash, randomUUID } from "node:crypto";
import type { Request, Response, Server } from "hyper-express";
import type { JSONValue } from "postgres";
import { Result, Schema, SchemaIssue } from "effect";
import type { Role } from "../config.ts";
import type { Sql } from "../storage/database.ts";
import { claimIdempotencyKey, completeIdempotencyKey, expireIdempotencyClaim } from "../storage/idempotencyStore.ts";
import type { Logger } from "../actors/logger.ts";
import { badRequest, HttpError, toHttpError } from "./errors.ts";
import type { HttpMetrics } from "./metrics.ts";
import { bearerToken, type TokenRoles } from "./tokens.ts";
import { PARTNER_ID_PATTERN } from "../integrations/driverKey.ts";

/** Identity vouched for by the role's proxy, from its headers. */
export type Identity =
  | { role: "fleet"; park_id: string; uid: string }
  | { role: "driver"; park_id: string; driver_id: string }
  | { role: "internal" | "admin" };

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  identity: Identity;
  req: Request;
  /**
   * The id of the object this request creates. With an Idempotency-Key it derives from the
   * caller's scope and the key, so every attempt of one key names the same object (whose actor
   * answers a repeated create with its first result); without one it is random, and a retry
   * creates a second object. `name` tells apart several objects one request creates.
   */
  newId(name?: string): string;
}

export interface RouteResult {
  status: number;
  body: unknown;
}

export type AnySchema = Schema.Codec<unknown, unknown, never, never>;

export interface RouteSpec<P extends AnySchema, Q extends AnySchema, B extends AnySchema> {
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string;
  role: Role;
  params?: P;
  query?: Q;
  body?: B;
  /** Mutating POSTs: a repeat with the same Idempotency-Key returns the first result. */
  idempotent?: boolean;
  /**
   * For idempotent routes whose answer holds personal data (addresses, coordinates): the
   * idempotency store keeps only `keep(body)` of a success (e.g. the new item's id), and a repeat
   * rebuilds its answer with `replay` from what is stored now, so no copy outlives the data
   * (a deleted item's repeat finds nothing).
   */
  personalAnswer?: {
    keep(body: unknown): JSONValue;
    replay(kept: any, ctx: Omit<RouteContext<P["Type"], Q["Type"], B["Type"]>, "newId">): Promise<RouteResult>;
  };
  /** What the API description (GET /openapi.json, /docs) says beyond the Schemas. */
  doc?: RouteDoc;
  handle(ctx: RouteContext<P["Type"], Q["Type"], B["Type"]>): Promise<RouteResult>;
}

export interface RouteDoc {
  summary: string;
  /** Statuses of success; default 200. */
  success?: readonly number[];
  /**
   * Error statuses of its own (404, 409, 503, ...), beside those the middleware answers for
   * every route (400, 401, 403, 500, 503, 504 `request_timeout`) or for what the spec declares
   * (413, idempotency's 409 and 422).
   */
  errors?: readonly number[];
  /** Media type of a success body; default `application/json`. */
  produces?: string;
}

/** What the API description reads of a route. */
export type DescribedRoute = Pick<RouteSpec<AnySchema, AnySchema, AnySchema>, "method" | "path" | "role" | "params" | "query" | "body" | "idempotent" | "doc">;

/** A registered route as the API description sees it. */
export interface CatalogEntry {
  spec: DescribedRoute;
  /** The service (or area) the route belongs to: its group in the description. */
  tag: string;
}

export interface RouteDeps {
  sql: Sql;
  tokens: TokenRoles;
  bodyLimitBytes: number;
  metrics: HttpMetrics;
  logger: Logger;
  /**
   * How long an attempt holds its Idempotency-Key: a retry within it is 409
   * `request_in_progress`; after it (the attempt crashed), the retry runs the handler again.
   */
  idempotencyLeaseMs: number;
  /** REQUEST_TIMEOUT_MS: a request not answered by then is 504 `request_timeout`. */
  requestTimeoutMs: number;
  /** Every route `route()` registered, in order: what GET /openapi.json describes. */
  catalog: CatalogEntry[];
  /** The group the routes registered with these deps belong to; default: the path's first segment. */
  tag?: string;
}

/** A UUID (version 8, name-based on SHA-256) naming what `key` creates within `scope` (the one called `name`). */
export function idFromKey(scope: string, key: string, name = ""): string {
  const hex = createHash("sha256").update(scope).update("\n").update(key).update("\n").update(name).digest("hex");
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1();

/** One decoder per Schema, built on first use: building it per request cost ~1 KB of garbage. */
const decoders = new WeakMap<AnySchema, ReturnType<typeof Schema.decodeUnknownResult<AnySchema>>>();

function decoderOf(schema: AnySchema) {
  let decoder = decoders.get(schema);
  if (!decoder) {
    decoder = Schema.decodeUnknownResult(schema, { errors: "all", onExcessProperty: "error" });
    decoders.set(schema, decoder);
  }
  return decoder;
}

/** Decodes `input` or throws a 400 listing every failing field path under `where`. */
export function decode<S extends AnySchema>(schema: S, input: unknown, where: "body" | "query" | "params" | "headers"): S["Type"] {
  const result = decoderOf(schema)(input);
  if (Result.isSuccess(result)) return result.success;
  const fields = formatIssues(result.failure.issue).issues.map((i) => ({ path: [where, ...(i.path ?? []).map(String)].join("."), message: i.message }));
  throw badRequest("invalid_request", `invalid ${where}: ${fields.map((f) => f.path).join(", ")}`, { fields });
}

/** The headers a role's proxy vouches for the caller with. */
export const identityHeaders = {
  fleet: { park_id: "x-park-id", uid: "x-yandex-uid" },
  driver: { park_id: "x-yataxi-park-id", driver_id: "x-yataxi-driver-profile-id" },
} as const;

/** Every id in a path, before the route's own Schema: nothing a key, a subject or a log line could misread. */
export const PATH_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

function checkPathIds(params: Record<string, string>): void {
  let fields: { path: string; message: string }[] | undefined;
  for (const name in params) {
    if (PATH_ID_PATTERN.test(params[name]!)) continue;
    fields ??= [];
    fields.push({ path: `params.${name}`, message: "expected 1..128 letters, digits, '.', '_', ':' or '-'" });
  }
  if (fields) throw badRequest("invalid_request", `invalid path: ${fields.map((f) => f.path).join(", ")}`, { fields });
}
const INT64_MAX = 9223372036854775807n;

/** A decimal that fits Postgres' bigint, where uids are stored. */
const isInt64Id = (value: string) => /^\d{1,19}$/.test(value) && BigInt(value) <= INT64_MAX;

function identify(role: Role, req: Request): Identity {
  if (role !== "fleet" && role !== "driver") return { role };
  const headers = identityHeaders[role];
  const values: Record<string, string> = {};
  const fields: { path: string; message: string }[] = [];
  for (const [field, header] of Object.entries(headers)) {
    const value = req.headers[header]?.trim();
    if (!value) fields.push({ path: `headers.${header}`, message: "required" });
    else values[field] = value;
  }
  for (const [field, header] of Object.entries(headers)) {
    const value = values[field];
    if (value === undefined) continue;
    if (field === "uid") {
      if (!isInt64Id(value)) fields.push({ path: `headers.${header}`, message: "expected a numeric uid of at most 9223372036854775807" });
    } else if (!PARTNER_ID_PATTERN.test(value)) fields.push({ path: `headers.${header}`, message: "expected 1..64 letters, digits, '.', '_', ':' or '-'" });
  }
  if (fields.length) throw badRequest("missing_identity", `identity headers missing or invalid: ${fields.map((f) => f.path).join(", ")}`, { fields });
  return { role, ...values } as Identity;
}

/** Throws 401 (no or unknown token) or 403 (another role's token) unless the request carries a token of `role`. */
function authenticate(role: Role, tokens: TokenRoles, req: Request): void {
  const token = bearerToken(req);
  if (!token) throw new HttpError(401, "unauthorized", "missing bearer token");
  const holder = tokens.roleOf(token);
  if (holder === role) return;
  if (holder !== undefined) throw new HttpError(403, "forbidden", `this route needs the ${role} role`);
  throw new HttpError(401, "unauthorized", "unknown token");
}

async function readBody(req: Request, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new HttpError(413, "payload_too_large", `body over ${limit} bytes`);
  const text = await req.text();
  if (Buffer.byteLength(text) > limit) throw new HttpError(413, "payload_too_large", `body over ${limit} bytes`);
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("invalid_json", "body is not valid JSON");
  }
}

function send(res: Response, status: number, body: unknown): void {
  if (status === 204) res.status(204).send();
  else res.status(status).json(body);
}

/** What one request answers. */
interface Answer {
  status: number;
  body: unknown;
  replayed?: boolean;
}

/** Registers one route on the server with the whole middleware chain, answering within `requestTimeoutMs`. */
export function route<P extends AnySchema, Q extends AnySchema, B extends AnySchema>(app: Server, deps: RouteDeps, spec: RouteSpec<P, Q, B>): void {
  const label = spec.path;
  deps.catalog.push({ spec: spec as RouteSpec<AnySchema, AnySchema, AnySchema>, tag: deps.tag ?? spec.path.split("/")[1]! });
  const durationLabels = { method: spec.method, route: label };
  const requestLabels = new Map<number, { method: string; route: string; status: string }>();
  const requestLabelsOf = (status: number) => {
    let labels = requestLabels.get(status);
    if (!labels) {
      labels = { ...durationLabels, status: String(status) };
      requestLabels.set(status, labels);
    }
    return labels;
  };
  app[spec.method](spec.path, async (req, res) => {
    const started = performance.now();
    let status = 500;
    try {
      const answer = await withinDeadline(respond(deps, spec, req), deps.requestTimeoutMs);
      status = answer.status;
      if (answer.replayed) res.header("Idempotent-Replayed", "true");
      send(res, answer.status, answer.body);
    } finally {
      deps.metrics.requests.inc(requestLabelsOf(status));
      deps.metrics.duration.observe(durationLabels, (performance.now() - started) / 1000);
    }
  });
}

/** A long-lived answer (server-sent events): auth and query decoding as `route()`, then `open` owns the response. */
export interface StreamSpec<Q extends AnySchema> {
  path: string;
  role: Role;
  query?: Q;
  doc: RouteDoc & { produces: string };
  /** Starts the stream; it ends when the client goes away or `open` ends the response. */
  open(ctx: { query: Q["Type"]; identity: Identity; req: Request }, res: Response): void;
}

/**
 * Registers a streaming GET route, described in the API document like any other.
 * @example streamRoute(app, deps, { path: "/x/feed", role: "admin", doc: { summary: "...", produces: "text/event-stream" }, open: (ctx, res) => ... })
 */
export function streamRoute<Q extends AnySchema>(app: Server, deps: RouteDeps, spec: StreamSpec<Q>): void {
  deps.catalog.push({ spec: { method: "get", path: spec.path, role: spec.role, query: spec.query, doc: spec.doc }, tag: deps.tag ?? spec.path.split("/")[1]! });
  app.get(spec.path, (req, res) => {
    let status = 200;
    try {
      authenticate(spec.role, deps.tokens, req);
      const identity = identify(spec.role, req);
      const query = spec.query ? decode(spec.query, req.query_parameters, "query") : {};
      spec.open({ query, identity, req }, res);
    } catch (error) {
      const answer = toHttpError(error).answer();
      status = answer.status;
      send(res, answer.status, answer.body);
    } finally {
      deps.metrics.requests.inc({ method: "get", route: spec.path, status: String(status) });
    }
  });
}

/**
 * 504 `request_timeout` once `ms` passed. The work goes on to its end: an actor's turn commits
 * whole or not at all, and an Idempotency-Key stays claimed until then and records that end, so a
 * retry with the key meanwhile is 409 `request_in_progress` and afterwards replays the outcome.
 */
function withinDeadline(work: Promise<Answer>, ms: number): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const timer = setTimeout(
      () => resolve(new HttpError(504, "request_timeout", `no answer within ${ms} ms; retry with the same Idempotency-Key to learn the outcome`).answer()),
      ms,
    );
    work.then(
      (answer) => {
        clearTimeout(timer);
        resolve(answer);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

const randomId = (): string => randomUUID();

/** The whole chain for one request; never throws, a failure is its answer. */
async function respond<P extends AnySchema, Q extends AnySchema, B extends AnySchema>(
  deps: RouteDeps,
  spec: RouteSpec<P, Q, B>,
  req: Request,
): Promise<Answer> {
  let idempotency: { scope: string; key: string } | undefined;
  try {
    authenticate(spec.role, deps.tokens, req);
    const identity = identify(spec.role, req);
    checkPathIds(req.path_parameters);
    const params = spec.params ? decode(spec.params, req.path_parameters, "params") : {};
    const query = spec.query ? decode(spec.query, req.query_parameters, "query") : {};
    const raw = spec.body ? await readBody(req, deps.bodyLimitBytes) : undefined;
    const body = spec.body ? decode(spec.body, raw ?? {}, "body") : undefined;

    const key = spec.idempotent ? req.headers["idempotency-key"] : undefined;
    if (key !== undefined) {
      if (key.length === 0 || key.length > 128)
        throw badRequest("invalid_request", "Idempotency-Key must be 1..128 characters", {
          fields: [{ path: "headers.idempotency-key", message: "1..128 characters" }],
        });
      const scope = `${JSON.stringify(identity)} ${spec.method} ${req.path}`;
      const hash = createHash("sha256")
        .update(JSON.stringify(raw ?? null))
        .digest("hex");
      const claim = await claimIdempotencyKey(deps.sql, scope, key, hash, deps.idempotencyLeaseMs);
      if (claim.kind === "replay") {
        const first = spec.personalAnswer && claim.status < 300 ? await spec.personalAnswer.replay(claim.body, { params, query, body, identity, req }) : claim;
        return { status: first.status, body: first.body, replayed: true };
      }
      if (claim.kind === "in_flight") throw new HttpError(409, "request_in_progress", "a request with this Idempotency-Key is still running");
      if (claim.kind === "different_request") throw new HttpError(422, "idempotency_key_reused", "this Idempotency-Key was used with another request");
      idempotency = { scope, key };
    }

    // Bound rather than a closure: the loader's keep-names helper redefines every named closure's `name`, per request.
    const newId: (name?: string) => string = idempotency ? idFromKey.bind(undefined, idempotency.scope, idempotency.key) : randomId;
    const result = await spec.handle({ params, query, body, identity, req, newId });
    if (idempotency) {
      const kept = spec.personalAnswer && result.status < 300 ? spec.personalAnswer.keep(result.body) : result.body;
      await completeIdempotencyKey(deps.sql, idempotency.scope, idempotency.key, result.status, kept);
    }
    return result;
  } catch (error) {
    const httpError = toHttpError(error);
    const { status } = httpError;
    // The client's body says little on purpose (http/errors.ts); the log keeps what happened.
    if (status === 500) deps.logger.error("request failed", { route: spec.path, code: httpError.code, error: String(error), stack: (error as Error)?.stack });
    else if (status > 500) deps.logger.warn("request failed", { route: spec.path, code: httpError.code, error: String(error) });
    if (idempotency) {
      // A refusal (4xx) is the result; after a failure (5xx) the retry runs again, reaching the
      // same objects (ids from the key), so whatever this attempt did is not done twice.
      if (httpError.status < 500)
        await completeIdempotencyKey(deps.sql, idempotency.scope, idempotency.key, httpError.status, httpError.body()).catch(() => {});
      else await expireIdempotencyClaim(deps.sql, idempotency.scope, idempotency.key).catch(() => {});
    }
    return httpError.answer();
  }
}
