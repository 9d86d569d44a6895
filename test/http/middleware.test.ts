// Auth, identity, validation, body limit, idempotency and ops routes, through a real instance.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestInstance, TOKENS, type TestInstance } from "../support/instance.ts";

const MAILINGS = "/fleet/communications/v1/mailings";
let app: TestInstance;

beforeAll(async () => {
  app = await startTestInstance({ HTTP_BODY_LIMIT_BYTES: "2048" });
  app.simulators.parks!.addDrivers("park-a", [{ driverId: "d1", workRule: "default", status: "online" }]);
});
afterAll(async () => {
  await app.close();
});

describe("http middleware", () => {
  it("auth - a missing or unknown token is 401, a token of another role is 403", async () => {
    expect((await app.call("GET", MAILINGS, { token: null, park: "park-a" })).status).toBe(401);
    const unknown = await app.call("GET", MAILINGS, { token: "nope", park: "park-a" });
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe("unauthorized");
    const otherRole = await app.call("GET", MAILINGS, { token: TOKENS.driver, park: "park-a" });
    expect(otherRole.status).toBe(403);
    expect(otherRole.body.code).toBe("forbidden");
  });

  it("identity - missing identity headers are 400 naming each header", async () => {
    const res = await app.call("GET", MAILINGS);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("missing_identity");
    expect(res.body.details.fields.map((f: { path: string }) => f.path)).toEqual(["headers.x-park-id", "headers.x-yandex-uid"]);
  });

  it("identity - values no column can hold are 400 at the edge: a uid past bigint, a park id with '/' or too long", async () => {
    const tooBig = await app.call("POST", MAILINGS, { park: "park-a", uid: "9999999999999999999", body: { message: "hi" } });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.details.fields.map((f: { path: string }) => f.path)).toEqual(["headers.x-yandex-uid"]);
    const largest = await app.call("POST", MAILINGS, { park: "park-a", uid: "9223372036854775807", body: { message: "edge" } });
    expect(largest.status).toBe(202);
    for (const park of ["park/a", "p".repeat(65), "park a"]) {
      const res = await app.call("GET", MAILINGS, { park });
      expect(res.status).toBe(400);
      expect(res.body.details.fields.map((f: { path: string }) => f.path)).toEqual(["headers.x-park-id"]);
    }
  });

  it("validation - wrong types are 400 naming every failing field", async () => {
    const res = await app.call("POST", MAILINGS, { park: "park-a", body: { message: 42, status: "sleeping", include_contractor_ids: ["ok", 7] } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_request");
    expect(res.body.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(["body.include_contractor_ids.1", "body.message", "body.status"]);
  });

  it("validation - unknown fields are refused, so a typo never silently drops a filter", async () => {
    const res = await app.call("POST", MAILINGS, { park: "park-a", body: { message: "hi", work_rul: "x" } });
    expect(res.status).toBe(400);
    expect(res.body.details.fields[0].path).toBe("body.work_rul");
  });

  it("validation - a body that is not JSON is 400", async () => {
    const res = await app.call("POST", MAILINGS, { park: "park-a", rawBody: "{not json" });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_json");
  });

  it("body limit - an oversized body is 413 with the JSON error format", async () => {
    const res = await app.call("POST", MAILINGS, { park: "park-a", body: { message: "x".repeat(5000) } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("payload_too_large");
  });

  it("idempotency - a repeat returns the first result, a different body with the key is refused", async () => {
    const headers = { "idempotency-key": "create-once" };
    const first = await app.call("POST", MAILINGS, { park: "park-a", headers, body: { message: "once" } });
    const again = await app.call("POST", MAILINGS, { park: "park-a", headers, body: { message: "once" } });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const list = await app.call("GET", MAILINGS, { park: "park-a" });
    expect(list.body.items.filter((m: { message: string }) => m.message === "once")).toHaveLength(1);
    const other = await app.call("POST", MAILINGS, { park: "park-a", headers, body: { message: "twice" } });
    expect(other.status).toBe(422);
    // The same key from another park is another request altogether.
    const otherPark = await app.call("POST", MAILINGS, { park: "park-b", headers, body: { message: "once" } });
    expect(otherPark.status).toBe(202);
    expect(otherPark.body.mailing_id).not.toBe(first.body.mailing_id);
  });

  it("ops - health, readiness and Prometheus metrics answer without auth", async () => {
    expect((await app.call("GET", "/health", { token: null })).body.status).toBe("ok");
    const ready = await app.call("GET", "/ready", { token: TOKENS.admin });
    expect(ready.status).toBe(200);
    expect(ready.body.checks.database).toBe("ok");
    const metrics = await fetch(`${app.url}/metrics`).then((r) => r.text());
    expect(metrics).toContain("fleet_http_requests_total");
    expect(metrics).toContain("fleet_snapshot_commit_seconds");
    expect(metrics).toContain('fleet_actors_active{type="mailing"}');
  });

  it("path ids - too long, or holding what a key or subject could misread, are 400 naming the parameter", async () => {
    for (const id of ["m".repeat(129), "a%20b", "a%2Fb", "%00", "a*b", "%D0%B8%D0%B4"]) {
      const res = await app.call("GET", `${MAILINGS}/${id}`, { park: "park-a" });
      expect(res.status, id).toBe(400);
      expect(res.body.details.fields).toEqual([{ path: "params.id", message: expect.any(String) }]);
    }
    expect((await app.call("GET", `${MAILINGS}/${"m".repeat(128)}`, { park: "park-a" })).status).toBe(404);
  });

  it("request head - a URL over 8 KB is 414, headers over 16 KB or 40 fields are 431, all in the JSON error format", async () => {
    const longUrl = await app.call("GET", `${MAILINGS}?cursor=${"c".repeat(9_000)}`, { park: "park-a" });
    expect(longUrl.status).toBe(414);
    expect(longUrl.body.code).toBe("uri_too_long");
    const bigHeaders = await app.call("GET", MAILINGS, { park: "park-a", headers: { "x-filler": "h".repeat(17_000) } });
    expect(bigHeaders.status).toBe(431);
    expect(bigHeaders.body.code).toBe("request_header_fields_too_large");
    expect((await app.call("GET", "/nope", { headers: { "x-filler": "h".repeat(17_000) } })).status).toBe(431);
    // With the ~11 fields fetch and the call add: over 40, and under the 48 uWS itself accepts.
    const fields = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`x-field-${i}`, "v"]));
    const manyFields = await app.call("GET", MAILINGS, { park: "park-a", headers: fields });
    expect(manyFields.status).toBe(431);
    expect(manyFields.body.message).toBe("over 40 header fields");
    const overlongCursor = await app.call("GET", `${MAILINGS}?cursor=${"c".repeat(3_000)}`, { park: "park-a" });
    expect(overlongCursor.status).toBe(400);
    expect(overlongCursor.body.details.fields[0].path).toBe("query.cursor");
  });

  it("routing - an unknown route is a JSON 404", async () => {
    const res = await app.call("GET", "/nope");
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("not_found");
  });
});
