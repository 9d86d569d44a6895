// A server with only the customer routes, on a private schema, with the personal simulator,
// captured logs and captured public events; shared by the customers suites.
import { Registry } from "prom-client";
import { createLogger } from "../../actors/logger.ts";
import { OutboxRelay } from "../../actors/OutboxRelay.ts";
import type { Role } from "../../config.ts";
import { createHttpServer } from "../../http/server.ts";
import { TokenRoles } from "../../http/tokens.ts";
import { customerRoutes } from "../../http/routes/customers.ts";
import { PersonalClient, startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import { CustomerBook } from "../../services/customers/customerBook.ts";
import { testDatabase, type TestDatabase } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";

export const BASE = "/fleet/customers/v1";
export { TOKENS };

export interface CustomerApp {
  url: string;
  db: TestDatabase;
  personal: PersonalSimulator;
  registry: Registry;
  /** Every log line written, as JSON text. */
  logs: string[];
  /** Public events published, in publish order. */
  events: { subject: string; payload: any }[];
  /** Replace to make publishing fail. */
  publish: (subject: string, payload: unknown) => Promise<void>;
  call(method: string, path: string, options?: CallOptions): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export interface CallOptions {
  park?: string;
  token?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function startCustomerApp(options: { limits?: { locations: number; routes: number } } = {}): Promise<CustomerApp> {
  const db = await testDatabase("cust");
  const personal = await startPersonalSimulator();
  const logs: string[] = [];
  const logger = createLogger({ write: (line) => logs.push(line) });
  const registry = new Registry();
  const http = createHttpServer({
    sql: db.sql,
    tokens: new TokenRoles(new Map(Object.entries(TOKENS).map(([role, token]) => [role as Role, [token]]))),
    bodyLimitBytes: 64 * 1024,
    idempotencyLeaseMs: 30_000,
    requestTimeoutMs: 10_000,
    logger,
    registry,
    instanceId: "customers-test",
    checks: [],
  });
  const app: CustomerApp = {
    url: "",
    db,
    personal,
    registry,
    logs,
    events: [],
    publish: async (subject, payload) => void app.events.push({ subject, payload }),
    call: async (method, path, call = {}) => {
      const headers: Record<string, string> = { "content-type": "application/json", ...call.headers };
      const token = call.token === undefined ? TOKENS.fleet : call.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (call.park !== undefined) {
        headers["x-park-id"] = call.park;
        headers["x-yandex-uid"] = "1001";
      }
      const body = call.rawBody ?? (call.body === undefined ? undefined : JSON.stringify(call.body));
      const res = await fetch(app.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    close: async () => {
      await http.close();
      await personal.close();
      await db.drop();
    },
  };
  // The runtime's relay, publishing into `app.events` (or failing, when a test says so).
  const relay = new OutboxRelay(db.sql, (m) => app.publish(m.target, m.payload), logger);
  customerRoutes(http.app, {
    ...http.deps,
    personal: new PersonalClient({ baseUrl: personal.url, timeoutMs: 500, retries: 0 }),
    customers: new CustomerBook({
      sql: db.sql,
      logger,
      dispatch: (messages) => relay.dispatch(messages),
      now: () => Date.now(),
      ...(options.limits ? { limits: options.limits } : {}),
    }),
  });
  app.url = `http://127.0.0.1:${await http.listen(0, "127.0.0.1")}`;
  return app;
}

/** Row counts of the customer tables. */
export async function counts(db: TestDatabase) {
  const [row] = await db.sql<{ customers: string; locations: string; routes: string; outbox: string }[]>`select
    (select count(*) from customers) as customers, (select count(*) from customer_locations) as locations,
    (select count(*) from customer_routes) as routes, (select count(*) from actor_outbox) as outbox`;
  return { customers: Number(row!.customers), locations: Number(row!.locations), routes: Number(row!.routes), outbox: Number(row!.outbox) };
}
