// A cluster instance as a child process for multi-instance tests: the real instance plus test
// actor kinds and a route that applies ledger operations. Prints one JSON line when ready.
import { Schema } from "effect";
import { loadConfig } from "../../config.ts";
import { startInstance } from "../../instance.ts";
import { createLogger } from "../../actors/logger.ts";
import { openPostgres } from "../../storage/database.ts";
import { route } from "../../http/route.ts";
import { beaconKind, ledgerKind } from "./ledgerKind.ts";
import { counterKind } from "./counterKind.ts";
import { benchRoutes } from "./clusterBenchRoutes.ts";

const config = loadConfig(process.env);
const db = await openPostgres({ url: process.env.TEST_DATABASE_URL!, schema: process.env.TEST_DB_SCHEMA!, max: 8 });
const instance = await startInstance(config, {
  db,
  logger: createLogger({ level: "warn", base: { instance: config.instanceId } }),
  extraKinds: [ledgerKind(), beaconKind(), counterKind()],
  extraRoutes: (app, deps) => {
    benchRoutes(app, deps, () => instance);
    route(app, deps, {
      method: "post",
      path: "/test/v1/ledgers/:id/apply",
      role: "internal",
      params: Schema.Struct({ id: Schema.String }),
      body: Schema.Struct({ op: Schema.String }),
      handle: async ({ params, body }) => ({
        status: 200,
        body: await deps.system.ask(`ledger/${params.id}`, { type: "apply", op: body.op }, { timeoutMs: 3_000 }),
      }),
    });
  },
});
process.stdout.write(`${JSON.stringify({ ready: instance.url, instance: config.instanceId })}\n`);
process.on(
  "SIGTERM",
  () =>
    void instance
      .stop()
      .then(() => db.close())
      .then(() => process.exit(0)),
);
