// /health (alive), /ready (dependencies reachable), /metrics (Prometheus text). No auth.
import type { Server } from "hyper-express";
import type { Registry } from "prom-client";

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface OpsDeps {
  registry: Registry;
  checks: readonly ReadinessCheck[];
  instanceId: string;
  /** Extra facts for /ready, e.g. cluster membership and owned shards. */
  describe?: () => Record<string, unknown>;
}

export function opsRoutes(app: Server, deps: OpsDeps): void {
  app.get("/health", (_req, res) => {
    res.json({ status: "ok", instance: deps.instanceId });
  });

  app.get("/ready", async (_req, res) => {
    const results = await Promise.all(
      deps.checks.map(async (c) => {
        try {
          await withTimeout(c.check(), 2_000);
          return [c.name, "ok"] as const;
        } catch (error) {
          return [c.name, `down: ${(error as Error).message ?? String(error)}`] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === "ok");
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "not_ready",
      instance: deps.instanceId,
      checks: Object.fromEntries(results),
      ...deps.describe?.(),
    });
  });

  app.get("/metrics", async (_req, res) => {
    res.header("Content-Type", deps.registry.contentType).send(await deps.registry.metrics());
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
