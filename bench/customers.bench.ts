// Bench: park customers with 1,000,000 customers across 1,000 parks. Find-by-phone through HTTP
// (route + personal exchange + the lookup) against the very same lookup as a raw SQL query,
// measured alternately in the same run; then the upsert rate through HTTP. The personal
// simulator runs in a child process, as personal is another service in production.
import http from "node:http";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Registry } from "prom-client";
import type { Role } from "../config.ts";
import { createLogger } from "../actors/logger.ts";
import { InProcessTransport } from "../actors/transport/InProcessTransport.ts";
import { OutboxRelay } from "../actors/OutboxRelay.ts";
import { createHttpServer } from "../http/server.ts";
import { TokenRoles } from "../http/tokens.ts";
import { customerRoutes } from "../http/routes/customers.ts";
import { PersonalClient, startPersonalSimulator } from "../integrations/personal/index.ts";
import { CustomerBook } from "../services/customers/customerBook.ts";
import { findCustomerByPhone } from "../storage/customerRepository.ts";
import { dropSchema, openPostgres } from "../storage/database.ts";
import { latencyFigures, percentile, printResult, progress, round } from "./scenario.ts";

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const customers = Number(process.env.BENCH_CUSTOMERS ?? 1_000_000);
const parks = Number(process.env.BENCH_PARKS ?? 1_000);
const samples = Number(process.env.BENCH_SAMPLES ?? 3_000);
const upsertSeconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONNECTIONS ?? 16);
const schema = `bench_customers_${randomBytes(4).toString("hex")}`;
const token = "bench-fleet-token";

const parkOf = (n: number) => `park-${String(n % parks).padStart(4, "0")}`;
const phoneOf = (n: number) => `+7900${String(n).padStart(7, "0")}`;
/** As a dispatcher types it, so the normaliser is in the measured path. */
const typedPhoneOf = (n: number) => phoneOf(n).replace(/^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/, "8 ($1) $2-$3-$4");

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
function call(port: number, method: string, path: string, park: string, body: unknown): Promise<number> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          "x-park-id": park,
          "x-yandex-uid": "1001",
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

if (process.argv.includes("--personal-simulator") && process.send) {
  const sim = await startPersonalSimulator();
  process.send({ url: sim.url });
  process.on("disconnect", () => void sim.close().finally(() => process.exit(0)));
} else {
  await main();
}

async function startPersonalProcess(): Promise<{ url: string; stop(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ["--personal-simulator"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("message", (m) => resolve((m as { url: string }).url));
    child.once("exit", (code) => reject(new Error(`personal simulator exited with ${code}`)));
  });
  return { url, stop: () => child.disconnect() };
}

async function preload(personalUrl: string, kind: "phones" | "names", items: { value: string; id: string }[]): Promise<void> {
  for (let i = 0; i < items.length; i += 1000) {
    const res = await fetch(`${personalUrl}/__personal/preload`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind, items: items.slice(i, i + 1000) }),
    });
    if (!res.ok) throw new Error(`preload answered ${res.status}`);
  }
}

async function main(): Promise<void> {
  const db = await openPostgres({ url, schema, max: 10 });
  const personal = await startPersonalProcess();
  const transport = new InProcessTransport();
  const relay = new OutboxRelay(db.sql, (m) => transport.publish(m.target, m.payload), createLogger({ level: "silent" }));
  const server = createHttpServer({
    sql: db.sql,
    tokens: new TokenRoles(new Map<Role, string[]>([["fleet", [token]]])),
    bodyLimitBytes: 64 * 1024,
    idempotencyLeaseMs: 30_000,
    requestTimeoutMs: 10_000,
    logger: createLogger({ level: "silent" }),
    registry: new Registry(),
    instanceId: "bench",
    checks: [],
  });
  customerRoutes(server.app, {
    ...server.deps,
    personal: new PersonalClient({ baseUrl: personal.url, timeoutMs: 2_000, retries: 0 }),
    customers: new CustomerBook({ sql: db.sql, logger: server.deps.logger, dispatch: (messages) => relay.dispatch(messages), now: () => Date.now() }),
  });

  try {
    const port = await server.listen(0, "127.0.0.1");
    progress(`schema ${schema}: loading ${customers} customers across ${parks} parks...`);
    const loadStarted = performance.now();
    // Personal ids `pd-phone-<n>` / `pd-name-<n>`; the sampled ones are registered in the simulator below.
    await db.sql`insert into customers (park_id, personal_phone_id, customer_id, personal_name_id, sms_enabled, order_options, version, created_at, updated_at)
      select 'park-' || lpad((n % ${parks})::text, 4, '0'), 'pd-phone-' || n, gen_random_uuid(), 'pd-name-' || n, n % 3 = 0,
             case when n % 2 = 0 then '{"tariff_class": "comfort", "requirements": ["child_chair"]}'::jsonb else '{}'::jsonb end,
             1, now(), now()
      from generate_series(1, ${customers}) n`;
    // A fifth have two favourite places, a tenth a regular route.
    await db.sql`insert into customer_locations (location_id, customer_id, label, address, lat, lon, created_at)
      select gen_random_uuid(), c.customer_id, k.label, 'Address ' || k.label, 55.7 + random() / 10, 37.6 + random() / 10, now()
      from customers c cross join (values ('home'), ('work')) k(label)
      where c.personal_phone_id like '%0' or c.personal_phone_id like '%5'`;
    await db.sql`insert into customer_routes (route_id, customer_id, label, points, schedule, created_at)
      select gen_random_uuid(), c.customer_id, 'commute',
             '[{"address": "A", "lat": 55.75, "lon": 37.61}, {"address": "B", "lat": 55.79, "lon": 37.54}]'::jsonb,
             '{"days": [1, 2, 3, 4, 5], "time": "08:30"}'::jsonb, now()
      from customers c where c.personal_phone_id like '%0'`;
    await db.sql`analyze customers; analyze customer_locations; analyze customer_routes`.simple();
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const [loaded] = await db.sql<{ n: string }[]>`select count(*) as n from customers`;
    progress(`loaded ${loaded!.n} customers in ${round(loadSeconds, 1)} s`);

    const picked = Array.from({ length: samples + 300 }, () => 1 + Math.floor(Math.random() * customers));
    await preload(
      personal.url,
      "phones",
      picked.map((n) => ({ value: phoneOf(n), id: `pd-phone-${n}` })),
    );
    await preload(
      personal.url,
      "names",
      picked.map((n) => ({ value: `Passenger ${n}`, id: `pd-name-${n}` })),
    );

    // Alternating, so both see the same machine state; the first 300 are warm-up.
    const viaHttp: number[] = [];
    const viaSql: number[] = [];
    let errors = 0;
    for (const [i, n] of picked.entries()) {
      let t = performance.now();
      const status = await call(port, "POST", "/fleet/customers/v1/customers/find", parkOf(n), { phone: typedPhoneOf(n) });
      const httpMs = performance.now() - t;
      if (status !== 200) errors++;
      t = performance.now();
      const row = await findCustomerByPhone(db.sql, parkOf(n), `pd-phone-${n}`);
      const sqlMs = performance.now() - t;
      if (!row) errors++;
      if (i >= 300) {
        viaHttp.push(httpMs);
        viaSql.push(sqlMs);
      }
    }
    viaHttp.sort((a, b) => a - b);
    viaSql.sort((a, b) => a - b);
    progress(
      `find: http p50 ${round(percentile(viaHttp, 50))} p99 ${round(percentile(viaHttp, 99))}; sql p50 ${round(percentile(viaSql, 50))} p99 ${round(percentile(viaSql, 99))}`,
    );

    // The personal exchange alone (what the route adds besides HTTP and SQL).
    const exchange: number[] = [];
    const client = new PersonalClient({ baseUrl: personal.url, timeoutMs: 2_000, retries: 0 });
    for (const n of picked.slice(0, 1000)) {
      const t = performance.now();
      await client.find("phones", phoneOf(n));
      exchange.push(performance.now() - t);
    }
    exchange.sort((a, b) => a - b);

    // Upserts after orders: half existing customers (a changed SMS flag), half new passengers.
    progress(`upserts: ${concurrency} in flight for ${upsertSeconds} s...`);
    let upserts = 0;
    let upsertErrors = 0;
    let fresh = customers;
    const upsertLatency: number[] = [];
    const until = performance.now() + upsertSeconds * 1000;
    const started = performance.now();
    const elu = performance.eventLoopUtilization();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        for (let k = 0; performance.now() < until; k++) {
          const n = k % 2 === 0 ? picked[(w * 7919 + k) % picked.length]! : ++fresh;
          const t = performance.now();
          const status = await call(port, "PUT", "/fleet/customers/v1/customers", parkOf(n), {
            phone: phoneOf(n),
            sms_enabled: (k & 2) === 0,
            name: `Passenger ${n}`,
          });
          upsertLatency.push(performance.now() - t);
          if (status === 200 || status === 201) upserts++;
          else upsertErrors++;
        }
      }),
    );
    const upsertElapsed = (performance.now() - started) / 1000;
    // Near 1: this one process (server, personal simulator and client) is the bottleneck, not Postgres.
    const upsertElu = performance.eventLoopUtilization(elu).utilization;
    upsertLatency.sort((a, b) => a - b);

    printResult({
      bench: "customers",
      customers: Number(loaded!.n),
      parks,
      load_s: round(loadSeconds, 1),
      samples: viaHttp.length,
      ...latencyFigures("find", viaHttp),
      ...latencyFigures("raw_sql", viaSql),
      p50_ratio: round(percentile(viaHttp, 50) / percentile(viaSql, 50), 2),
      p99_ratio: round(percentile(viaHttp, 99) / percentile(viaSql, 99), 2),
      personal_find_p50_ms: round(percentile(exchange, 50)),
      find_errors: errors,
      upserts_per_s: Math.round(upserts / upsertElapsed),
      ...latencyFigures("upsert", upsertLatency),
      upsert_concurrency: concurrency,
      upsert_errors: upsertErrors,
      upsert_event_loop_utilisation: round(upsertElu, 2),
    });
  } finally {
    agent.destroy();
    await server.close().catch(() => {});
    personal.stop();
    await db.close().catch(() => {});
    await dropSchema(url, schema).catch((e) => progress(`drop schema failed: ${String(e)}`));
  }
}
