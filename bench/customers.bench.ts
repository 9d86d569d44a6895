// Bench: park customers with 1,000,000 customers across 1,000 parks. Find-by-phone through HTTP
// (route + personal exchange + the lookup) against the very same lookup as a raw SQL query,
// measured alternately in the same run; then the upsert rate through HTTP, with the server's own
// CPU per upsert. Three processes: this one is the server (routes, the outbox relay, the
// customer book); the personal simulator is a child, as personal is another service in
// production; the client (bench/customersClient.ts) is another, so none of its work counts here.
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
import { dropSchema, openPostgres } from "../storage/database.ts";
import { phoneOf, type ClientJob, type ClientMessage } from "./customersClient.ts";
import { printResult, progress, round } from "./scenario.ts";

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const customers = Number(process.env.BENCH_CUSTOMERS ?? 1_000_000);
const parks = Number(process.env.BENCH_PARKS ?? 1_000);
const samples = Number(process.env.BENCH_SAMPLES ?? 3_000);
const upsertSeconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONNECTIONS ?? 16);
const schema = `bench_customers_${randomBytes(4).toString("hex")}`;
const token = "bench-fleet-token";

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

/** What this process spent over the client's upserts: CPU (user + system) and event-loop use. */
interface ServerCost {
  cpuMicros: number;
  eventLoopUtilisation: number;
}

/** Runs the client process on `job`; this process measures its own cost between the client's `upserts` and `upserted`. */
function runClient(job: ClientJob): Promise<{ figures: Record<string, number>; cost: ServerCost }> {
  const child = fork(fileURLToPath(new URL("./customersClient.ts", import.meta.url)), ["--customers-client"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let cpu = process.cpuUsage();
    let elu = performance.eventLoopUtilization();
    let cost: ServerCost | undefined;
    child.on("message", (m: ClientMessage) => {
      if (m.kind === "upserts") {
        cpu = process.cpuUsage();
        elu = performance.eventLoopUtilization();
        child.send({ kind: "go" });
      } else if (m.kind === "upserted") {
        const spent = process.cpuUsage(cpu);
        cost = { cpuMicros: spent.user + spent.system, eventLoopUtilisation: performance.eventLoopUtilization(elu).utilization };
      } else if (cost) resolve({ figures: m.figures, cost });
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`bench client exited with ${code} before reporting`))); // no-op once resolved
    child.send({ kind: "job", job });
  });
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

    const { figures, cost } = await runClient({
      port,
      personalUrl: personal.url,
      databaseUrl: url,
      schema,
      picked,
      customers,
      parks,
      concurrency,
      upsertSeconds,
      token,
    });
    const { upserts, ...reported } = figures;
    printResult({
      bench: "customers",
      customers: Number(loaded!.n),
      parks,
      load_s: round(loadSeconds, 1),
      ...reported,
      // This process alone (routes, relay, book); near 1 means the server, not Postgres, bounds the rate.
      upsert_event_loop_utilisation: round(cost.eventLoopUtilisation, 2),
      server_cpu_us_per_upsert: Math.round(cost.cpuMicros / upserts!),
    });
  } finally {
    await server.close().catch(() => {});
    personal.stop();
    await db.close().catch(() => {});
    await dropSchema(url, schema).catch((e) => progress(`drop schema failed: ${String(e)}`));
  }
}
