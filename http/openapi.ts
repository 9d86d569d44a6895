// The OpenAPI 3.1 document of an instance (GET /openapi.json), built from exactly the routes it
// registered: each route's role, identity headers, Idempotency-Key, the JSON Schemas of its path,
// query and body (generated from the Effect Schemas it decodes with) and the statuses it answers.
import { Schema } from "effect";
import type { Role } from "../config.ts";
import { PARTNER_ID_PATTERN } from "../integrations/driverKey.ts";
import { componentSchema, type JsonSchema } from "./jsonSchema.ts";
import { identityHeaders, PATH_ID_PATTERN, type AnySchema, type CatalogEntry } from "./route.ts";

/** A route registered outside `route()` (ops, the description itself), described by hand. */
export interface PlainRouteDoc {
  method: "get";
  path: string;
  tag: string;
  summary: string;
  /** Status -> what the body says. */
  answers: Readonly<Record<number, string>>;
  /** Media type of the bodies. */
  produces: string;
  /** Set when an admin token shows more (/ready). */
  optionalRole?: Role;
}

/** The body of every error answer (http/errors.ts `ErrorBody`). */
const ErrorBody = Schema.Struct({
  code: Schema.String.annotate({ description: "stable, machine-readable" }),
  message: Schema.String,
  details: Schema.optional(Schema.Unknown),
});

const reasons: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  400: "Invalid path, query, body or identity headers (details.fields names each)",
  401: "Missing or unknown bearer token",
  403: "The token's role is not this route's",
  404: "Not found",
  409: "Conflicts with the current state",
  413: "Body over HTTP_BODY_LIMIT_BYTES",
  422: "Cannot be applied as sent",
  429: "Too many requests",
  500: "Internal error",
  503: "A dependency is unavailable; retry",
  504: "No answer in time (it may still complete): retry with the same Idempotency-Key",
};

/** Routes refuse fields their Schema does not name (route.ts `decode`). */
const routeSchema = (schema: AnySchema, defs: Record<string, JsonSchema>) => componentSchema(schema, defs, "error");

const errorResponse = (status: number) => ({
  description: reasons[status] ?? `HTTP ${status}`,
  content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
});

function successResponse(status: number, produces = "application/json", description = reasons[status] ?? `HTTP ${status}`) {
  if (status === 204) return { description };
  return { description, content: { [produces]: { schema: produces === "application/json" ? { type: "object" } : { type: "string" } } } };
}

/** `/a/:id/b` -> `/a/{id}/b`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
/** `post` `/a/:id/b-c` -> `postAIdBC`: unique per method and path. */
const operationId = (method: string, path: string) => method + path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase());
const pathParams = (path: string) => [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);

function parameters(entry: CatalogEntry, defs: Record<string, JsonSchema>) {
  const { spec } = entry;
  const declared = spec.params ? ((routeSchema(spec.params, defs).properties ?? {}) as Record<string, JsonSchema>) : {};
  const path = pathParams(spec.path).map((name) => ({
    name,
    in: "path",
    required: true,
    description: "1..128 letters, digits, '.', '_', ':' or '-'",
    schema: declared[name] ?? { type: "string", pattern: PATH_ID_PATTERN.source },
  }));
  const query = spec.query ? routeSchema(spec.query, defs) : undefined;
  const required = new Set((query?.required as string[] | undefined) ?? []);
  const queryParams = Object.entries((query?.properties ?? {}) as Record<string, JsonSchema>).map(([name, schema]) => ({
    name,
    in: "query",
    required: required.has(name),
    schema,
  }));
  const role = spec.role;
  const identity =
    role === "fleet" || role === "driver"
      ? Object.entries(identityHeaders[role]).map(([field, header]) => ({
          name: header,
          in: "header",
          required: true,
          description: `the caller's ${field}, vouched for by the ${role} role's proxy`,
          schema:
            field === "uid"
              ? { type: "string", pattern: "^\\d{1,19}$", description: "at most 9223372036854775807" }
              : { type: "string", pattern: PARTNER_ID_PATTERN.source },
        }))
      : [];
  const idempotency = spec.idempotent
    ? [
        {
          name: "Idempotency-Key",
          in: "header",
          required: false,
          description: "a repeat within 24 h returns the first answer (with Idempotent-Replayed: true)",
          schema: { type: "string", minLength: 1, maxLength: 128 },
        },
      ]
    : [];
  return [...path, ...queryParams, ...identity, ...idempotency];
}

function operation(entry: CatalogEntry, defs: Record<string, JsonSchema>) {
  const { spec } = entry;
  const errors = new Set([400, 401, 403, 500, 503, 504, ...(spec.body ? [413] : []), ...(spec.idempotent ? [409, 422] : []), ...(spec.doc?.errors ?? [])]);
  const responses: Record<string, unknown> = {};
  for (const status of spec.doc?.success ?? [200]) responses[status] = successResponse(status, spec.doc?.produces);
  for (const status of [...errors].sort((a, b) => a - b)) responses[status] = errorResponse(status);
  return {
    tags: [entry.tag],
    summary: spec.doc?.summary ?? `${spec.method.toUpperCase()} ${spec.path}`,
    operationId: operationId(spec.method, spec.path),
    security: [{ bearer: [spec.role] }],
    "x-role": spec.role,
    parameters: parameters(entry, defs),
    ...(spec.body ? { requestBody: { required: true, content: { "application/json": { schema: routeSchema(spec.body, defs) } } } } : {}),
    responses,
  };
}

function plainOperation(route: PlainRouteDoc) {
  return {
    tags: [route.tag],
    summary: route.summary,
    operationId: operationId(route.method, route.path),
    security: route.optionalRole ? [{}, { bearer: [route.optionalRole] }] : [],
    responses: Object.fromEntries(
      Object.entries(route.answers).map(([status, description]) => [status, successResponse(Number(status), route.produces, description)]),
    ),
  };
}

/**
 * The OpenAPI 3.1 document of `catalog` (the routes `route()` registered) and `plain` (the others).
 * @example openApiDocument(deps.catalog, opsRouteDocs)
 */
export function openApiDocument(catalog: readonly CatalogEntry[], plain: readonly PlainRouteDoc[]) {
  const defs: Record<string, JsonSchema> = {};
  defs.ErrorBody = routeSchema(ErrorBody, defs);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of plain) paths[route.path] = { ...paths[route.path], [route.method]: plainOperation(route) };
  for (const entry of catalog) {
    const path = openApiPath(entry.spec.path);
    paths[path] = { ...paths[path], [entry.spec.method]: operation(entry, defs) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "fleet-actors",
      version: "1",
      description:
        "Five fleet services as one actor system. Every route but the ops routes and this description needs `Authorization: Bearer <token>` of its role " +
        "(the `bearer` requirement names it; `x-role` too): a missing or unknown token is 401, another role's 403. Errors are JSON `{code, message, details?}`; " +
        "a URL over 8 KB is 414 and headers over 16 KB or over 40 fields are 431.",
    },
    tags: [...new Set([...plain, ...catalog].map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: defs,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "a token of the route's role (AUTH_TOKENS)" } },
    },
  };
}
