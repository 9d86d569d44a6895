// GET /openapi.json and /docs describe exactly the routes the server registered, from their specs:
// a route added anywhere through route() appears without anyone writing its description.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { route } from "../../http/route.ts";
import { unresolvedRefs } from "../support/apiDocuments.ts";
import { startTestInstance, type TestInstance } from "../support/instance.ts";

let instance: TestInstance;
let app: Server;

/** A route of no service, with every part a spec can declare. */
const ProbeBody = Schema.Struct({ count: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 9 })), note: Schema.optional(Schema.String) });

beforeAll(async () => {
  instance = await startTestInstance(
    {},
    {
      extraRoutes: (server, deps) => {
        app = server;
        route(server, deps, {
          method: "post",
          path: "/probe/v1/things/:thing_id/pokes",
          role: "fleet",
          params: Schema.Struct({ thing_id: Schema.NonEmptyString }),
          query: Schema.Struct({ dry: Schema.optional(Schema.Literals(["yes", "no"])) }),
          body: ProbeBody,
          idempotent: true,
          doc: { summary: "Poke a thing", success: [201], errors: [404] },
          handle: async () => ({ status: 201, body: {} }),
        });
      },
    },
  );
}, 60_000);
afterAll(() => instance?.close());

const fetchDocument = async () => {
  const res = await fetch(`${instance.url}/openapi.json`);
  return { status: res.status, document: (await res.json()) as any };
};

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** What OpenAPI 3.1 requires of a document, beyond its JSON shape, that our generator could get wrong. */
function openApiProblems(document: any): string[] {
  const problems: string[] = [];
  if (!/^3\.1\.\d+$/.test(document.openapi)) problems.push(`openapi ${document.openapi}`);
  if (typeof document.info?.title !== "string" || typeof document.info?.version !== "string") problems.push("info.title and info.version");
  const operationIds = new Set<string>();
  const tags = new Set((document.tags ?? []).map((t: { name: string }) => t.name));
  for (const [path, item] of Object.entries<any>(document.paths)) {
    if (!path.startsWith("/")) problems.push(`path ${path}`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries<any>(item)) {
      const where = `${method} ${path}`;
      if (!METHODS.includes(method)) problems.push(`${where}: not a method`);
      if (operationIds.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} twice`);
      operationIds.add(op.operationId);
      for (const tag of op.tags ?? []) if (!tags.has(tag)) problems.push(`${where}: tag ${tag} undeclared`);
      const params: any[] = op.parameters ?? [];
      const pathParams = params.filter((p) => p.in === "path").map((p) => p.name);
      if ([...pathParams].sort().join() !== [...templated].sort().join()) problems.push(`${where}: path parameters ${pathParams} vs ${templated}`);
      for (const p of params) {
        if (!["path", "query", "header", "cookie"].includes(p.in) || typeof p.name !== "string" || !p.schema) problems.push(`${where}: parameter ${p.name}`);
        if (p.in === "path" && p.required !== true) problems.push(`${where}: path parameter ${p.name} not required`);
      }
      const keys = params.map((p) => `${p.in}:${p.name.toLowerCase()}`);
      if (new Set(keys).size !== keys.length) problems.push(`${where}: a parameter twice`);
      const responses = Object.entries<any>(op.responses ?? {});
      if (responses.length === 0) problems.push(`${where}: no responses`);
      for (const [status, response] of responses) {
        if (!/^[1-5]\d\d$/.test(status)) problems.push(`${where}: response ${status}`);
        if (typeof response.description !== "string") problems.push(`${where}: response ${status} without description`);
      }
      for (const requirement of op.security ?? [])
        for (const scheme of Object.keys(requirement))
          if (!document.components?.securitySchemes?.[scheme]) problems.push(`${where}: security ${scheme} undeclared`);
    }
  }
  return [...problems, ...unresolvedRefs(document).map((ref) => `$ref ${ref} does not resolve`)];
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document, without a token: every $ref resolves, every path parameter declared", async () => {
    const { status, document } = await fetchDocument();
    expect(status).toBe(200);
    expect(openApiProblems(document)).toEqual([]);
    // Numbers are finite (JSON has no NaN or Infinity): the JSON codec's strings for them are no input.
    expect(JSON.stringify(document)).not.toMatch(/Infinity|NaN/);
  });

  it("lists exactly the routes the server registered (hyper-express's own table), a route of no service included", async () => {
    const { document } = await fetchDocument();
    const registered = Object.entries(app.routes as unknown as Record<string, Record<string, unknown>>)
      .flatMap(([method, patterns]) => Object.keys(patterns).map((pattern) => `${method === "del" ? "delete" : method} ${pattern.replace(/:(\w+)/g, "{$1}")}`))
      .filter((r) => r !== "any /*"); // the JSON 404 of unknown paths
    const described = Object.entries<Record<string, unknown>>(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    expect(described.sort()).toEqual(registered.sort());
    expect(described).toContain("post /probe/v1/things/{thing_id}/pokes");
    expect(described.length).toBeGreaterThan(35);
  });

  it("a route's role, identity headers, Idempotency-Key, Schemas and statuses come from its spec", async () => {
    const { document } = await fetchDocument();
    const op = document.paths["/probe/v1/things/{thing_id}/pokes"].post;
    expect(op).toMatchObject({ summary: "Poke a thing", security: [{ bearer: ["fleet"] }], tags: ["probe"] });
    const params = Object.fromEntries(op.parameters.map((p: any) => [`${p.in} ${p.name}`, p]));
    expect(Object.keys(params).sort()).toEqual(["header Idempotency-Key", "header x-park-id", "header x-yandex-uid", "path thing_id", "query dry"]);
    expect(params["header x-park-id"].required).toBe(true);
    expect(params["header Idempotency-Key"]).toMatchObject({ required: false, schema: { minLength: 1, maxLength: 128 } });
    // An optional field admits no null: the route decodes with the Schema, which refuses it.
    expect(params["query dry"]).toEqual({ name: "dry", in: "query", required: false, schema: { type: "string", enum: ["yes", "no"] } });
    const body = op.requestBody.content["application/json"].schema;
    expect(body).toMatchObject({
      required: ["count"],
      additionalProperties: false,
      properties: { count: { type: "integer", minimum: 1, maximum: 9 }, note: { type: "string" } },
    });
    expect(Object.keys(op.responses).sort()).toEqual(["201", "400", "401", "403", "404", "409", "413", "422", "500", "503", "504"]);
    expect(op.responses["404"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ErrorBody" });
    expect(document.components.schemas.ErrorBody.required).toEqual(["code", "message"]);
  });

  it("the services' routes keep their own groups, roles and statuses", async () => {
    const { document } = await fetchDocument();
    const booking = document.paths["/scooter-accumulator/v1/cabinets/{cabinet_id}/bookings"].post;
    expect(booking).toMatchObject({ tags: ["cabinets"], security: [{ bearer: ["internal"] }] });
    expect(Object.keys(booking.responses)).toEqual(expect.arrayContaining(["201", "404", "409", "504"]));
    expect(document.paths["/fleet/customers/v1/customers/{customer_id}"].delete.responses["204"]).toEqual({ description: "No Content" });
    expect(document.paths["/admin/v1/actors"].get.security).toEqual([{ bearer: ["admin"] }]);
    expect(document.paths["/health"].get.security).toEqual([]);
    expect(document.tags.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(["mailings", "customers", "driverStatus", "cabinets", "admin", "ops"]),
    );
  });
});

describe("GET /docs", () => {
  it("is one HTML page listing every path, that fetches nothing from anywhere", async () => {
    const res = await fetch(`${instance.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    const html = await res.text();
    const { document } = await fetchDocument();
    for (const path of Object.keys(document.paths)) expect(html).toContain(`<code>${path}</code>`);
    expect(html).not.toMatch(/<script|src=|href="(https?:)?\/\//i);
  });
});
