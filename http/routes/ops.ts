// /health (alive), /ready (dependencies reachable), /metrics (Prometheus text). No auth needed;
// /ready tells why only to the admin role (its reasons name hosts, errors and member instances).
import type { Request, Server } from "hyper-express";
import type { Registry } from "prom-client";
import { bearerToken, type TokenRoles } from "../tokens.ts";
import type { PlainRouteDoc } from "../openapi.ts";

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
  /**
   * The one service that needs this dependency (e.g. `cabinets` for MQTT). Such a check is
   * reported under `services` and never fails /ready: that service's routes answer 503 on their
   * own while it is down, and every other route keeps serving. Unset: every route needs it.
   */
  service?: string;
}

export interface OpsDeps {
  registry: Registry;
  checks: readonly ReadinessCheck[];
  instanceId: string;
  /** Who may read /ready's details. */
  tokens: TokenRoles;
  /** Extra facts for /ready, e.g. cluster membership and owned shards. */
  describe?: () => Record<string, unknown>;
}

export function opsRoutes(app: Server, deps: OpsDeps): void {
  app.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/ready", async (req, res) => {
    const results = await Promise.all(deps.checks.map(async (c) => ({ check: c, state: await checkState(c) })));
    const checks: Record<string, string> = {};
    const services: Record<string, Record<string, string>> = {};
    for (const { check, state } of results) {
      if (check.service === undefined) checks[check.name] = state;
      else services[check.service] = { ...services[check.service], [check.name]: state };
    }
    const ready = Object.values(checks).every((state) => state === "ok");
    if (!isAdmin(req, deps.tokens)) return void res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not_ready" });
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "not_ready",
      instance: deps.instanceId,
      checks,
      services,
      ...deps.describe?.(),
    });
  });

  app.get("/metrics", async (_req, res) => {
    res.header("Content-Type", deps.registry.contentType).send(await deps.registry.metrics());
  });
}

/** What the API description says of the routes above. */
export const opsRouteDocs: readonly PlainRouteDoc[] = [
  { method: "get", path: "/health", tag: "ops", summary: "Alive", answers: { 200: "{status: ok}" }, produces: "application/json" },
  {
    method: "get",
    path: "/ready",
    tag: "ops",
    summary: "Whether what every route needs answers; with an admin token, each check and each service's own dependencies",
    answers: { 200: "{status: ready}", 503: "{status: not_ready}" },
    produces: "application/json",
    optionalRole: "admin",
  },
  { method: "get", path: "/metrics", tag: "ops", summary: "Prometheus text", answers: { 200: "the metrics" }, produces: "text/plain" },
];

function isAdmin(req: Request, tokens: TokenRoles): boolean {
  const token = bearerToken(req);
  return token !== "" && tokens.roleOf(token) === "admin";
}

/** `ok`, or `down: <why>`. */
async function checkState(c: ReadinessCheck): Promise<string> {
  try {
    await withTimeout(c.check(), 2_000);
    return "ok";
  } catch (error) {
    return `down: ${(error as Error).message ?? String(error)}`;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
