// /ready: what every route needs (database, cluster) decides it; a service's own dependency is
// reported beside it and never fails it.
import HyperExpress from "hyper-express";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { opsRoutes, type ReadinessCheck } from "../../http/routes/ops.ts";
import { TokenRoles } from "../../http/tokens.ts";

let app: HyperExpress.Server | undefined;
afterEach(async () => {
  await app?.shutdown();
  app = undefined;
});

const ADMIN = "admin-token-of-the-ops-test-000000000";
const tokens = new TokenRoles(
  new Map([
    ["admin", [ADMIN]],
    ["fleet", ["fleet-token-of-the-ops-test-000000000"]],
  ]),
);

/** /ready as the admin sees it (`token` unset), or as anyone else does. */
async function ready(checks: ReadinessCheck[], token: string | null = ADMIN) {
  await app?.shutdown();
  app = new HyperExpress.Server({ auto_close: false });
  opsRoutes(app, { registry: new Registry(), checks, instanceId: "ops-test", tokens });
  await app.listen(0, "127.0.0.1");
  const res = await fetch(`http://127.0.0.1:${(app as unknown as { port: number }).port}/ready`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const ok = async () => {};
const down = (why: string) => async () => {
  throw new Error(why);
};

describe("/ready", () => {
  it("without the admin token: only ready or not, never why (reasons name hosts, errors and instances)", async () => {
    const checks = [
      { name: "database", check: down("connect ECONNREFUSED 10.0.0.7:5432") },
      { name: "mqtt", service: "cabinets", check: ok },
    ];
    for (const token of [null, "fleet-token-of-the-ops-test-000000000", "not-a-token"])
      expect(await ready(checks, token)).toEqual({ status: 503, body: { status: "not_ready" } });
    expect(await ready([{ name: "database", check: ok }], null)).toEqual({ status: 200, body: { status: "ready" } });
    expect((await ready(checks)).body.checks.database).toBe("down: connect ECONNREFUSED 10.0.0.7:5432");
  });

  it("a service's dependency down is reported under services and the instance stays ready", async () => {
    const res = await ready([
      { name: "database", check: ok },
      { name: "mqtt", service: "cabinets", check: down("the MQTT broker is not reachable") },
      { name: "driver_profiles_cache", service: "driverStatus", check: ok },
    ]);
    expect(res).toEqual({
      status: 200,
      body: {
        status: "ready",
        instance: "ops-test",
        checks: { database: "ok" },
        services: { cabinets: { mqtt: "down: the MQTT broker is not reachable" }, driverStatus: { driver_profiles_cache: "ok" } },
      },
    });
  });

  it("what every route needs down (the database, the cluster) is 503 naming it, services still reported", async () => {
    const res = await ready([
      { name: "database", check: down("connection refused") },
      { name: "cluster", check: ok },
      { name: "mqtt", service: "cabinets", check: ok },
    ]);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      status: "not_ready",
      checks: { database: "down: connection refused", cluster: "ok" },
      services: { cabinets: { mqtt: "ok" } },
    });
    expect(
      (
        await ready([
          { name: "database", check: ok },
          { name: "cluster", check: down("no NATS") },
        ])
      ).status,
    ).toBe(503);
  });
});
