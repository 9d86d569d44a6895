// /ready: what every route needs (database, cluster) decides it; a service's own dependency is
// reported beside it and never fails it.
import HyperExpress from "hyper-express";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { opsRoutes, type ReadinessCheck } from "../../http/routes/ops.ts";

let app: HyperExpress.Server | undefined;
afterEach(async () => {
  await app?.shutdown();
  app = undefined;
});

async function ready(checks: ReadinessCheck[]) {
  await app?.shutdown();
  app = new HyperExpress.Server({ auto_close: false });
  opsRoutes(app, { registry: new Registry(), checks, instanceId: "ops-test" });
  await app.listen(0, "127.0.0.1");
  const res = await fetch(`http://127.0.0.1:${(app as unknown as { port: number }).port}/ready`);
  return { status: res.status, body: await res.json() };
}

const ok = async () => {};
const down = (why: string) => async () => {
  throw new Error(why);
};

describe("/ready", () => {
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
