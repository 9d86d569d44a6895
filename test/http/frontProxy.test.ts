// The production front (deploy/haproxy.cfg) before a real instance: what the instance's own
// uWebSockets cannot answer (heads over ~128 KB, over 48 header fields) gets a clear status from
// the front, never a reset or a silent connection, and ordinary traffic passes through untouched.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, waitForPort } from "../support/ports.ts";
import { startTestInstance, TOKENS, type TestInstance } from "../support/instance.ts";
import { getHead, rawRequest } from "../support/rawHttp.ts";

const FRONT_CONFIG = path.join(import.meta.dirname, "../../deploy/haproxy.cfg");
let app: TestInstance;
let front: ChildProcess;
let frontPort: number;

beforeAll(async () => {
  app = await startTestInstance();
  app.simulators.parks!.addDrivers("park-a", [{ driverId: "d1", workRule: "default", status: "online" }]);
  frontPort = await freePort();
  front = spawn("haproxy", ["-db", "-f", FRONT_CONFIG], {
    env: { ...process.env, FLEET_FRONT_BIND: `127.0.0.1:${frontPort}`, FLEET_INSTANCE_1: new URL(app.url).host },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitForPort(frontPort, "haproxy");
});
afterAll(async () => {
  front?.kill("SIGTERM");
  await app?.close();
});

describe("production front (deploy/haproxy.cfg)", () => {
  it("passes ordinary requests through: a create with its body, then the read of it", async () => {
    const base = `http://127.0.0.1:${frontPort}/fleet/communications/v1/mailings`;
    const headers = { authorization: `Bearer ${TOKENS.fleet}`, "x-park-id": "park-a", "x-yandex-uid": "1001", "content-type": "application/json" };
    const created = await fetch(base, { method: "POST", headers, body: JSON.stringify({ message: "through the front" }) });
    expect(created.status).toBe(202);
    const { mailing_id: id } = (await created.json()) as { mailing_id: string };
    const read = await fetch(`${base}/${id}`, { headers });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ mailing_id: id });
  });

  it.each([
    { what: "a URL of 20 KB", head: getHead(`/health?q=${"q".repeat(20_000)}`), status: 414, code: "uri_too_long" },
    { what: "20 KB of headers", head: getHead("/health", { valueBytes: 20_000, fields: 1 }), status: 431, code: "request_header_fields_too_large" },
    { what: "41 header fields", head: getHead("/health", { fields: 39 }), status: 431, code: "request_header_fields_too_large" },
    { what: "60 header fields", head: getHead("/health", { fields: 58 }), status: 431, code: "request_header_fields_too_large" },
    { what: "500 header fields", head: getHead("/health", { fields: 498 }), status: 431, code: "request_header_fields_too_large" },
  ])("$what gets $status with the JSON error $code", async ({ head, status, code }) => {
    const answer = await rawRequest(frontPort, head);
    expect(answer.status).toBe(status);
    expect(JSON.parse((answer as { body: string }).body).code).toBe(code);
  });

  it.each([
    { what: "a URL of 200 KB", head: getHead(`/health?q=${"q".repeat(200_000)}`) },
    { what: "110 KB of headers", head: getHead("/health", { valueBytes: 110_000, fields: 1 }) },
  ])("$what (past the front's 64 KB buffer) gets HAProxy's 400, not a reset or silence", async ({ head }) => {
    expect((await rawRequest(frontPort, head)).status).toBe(400);
  });

  it("40 header fields are still served", async () => {
    expect((await rawRequest(frontPort, getHead("/health", { fields: 38 }))).status).toBe(200);
  });
});
