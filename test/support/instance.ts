// Boots a whole instance on a private Postgres schema with its simulators, and a small client.
import { loadConfig } from "../../config.ts";
import { startInstance, type Instance, type InstanceOptions } from "../../instance.ts";
import type { Clock } from "../../actors/clock.ts";
import { silentLogger, testDatabase, type TestDatabase } from "./harness.ts";

/** Long enough for production mode (32+ characters), which the cluster and process tests run in. */
export const TOKENS = {
  fleet: "fleet-token-for-tests-0000000000001",
  internal: "internal-token-for-tests-00000000002",
  driver: "driver-token-for-tests-000000000003",
  admin: "admin-token-for-tests-0000000000004",
} as const;
/** What production-mode test processes need beside their backends: the tokens, and every partner simulated. */
export const PRODUCTION_TEST_ENV = {
  AUTH_TOKENS: Object.entries(TOKENS)
    .map(([r, t]) => `${r}=${t}`)
    .join(","),
  SIMULATORS: "all",
} as const;

export interface TestInstance extends Instance {
  testDb: TestDatabase;
  call(method: string, path: string, options?: CallOptions): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export interface CallOptions {
  token?: string | null;
  headers?: Record<string, string>;
  body?: unknown;
  /** Sent as is (for malformed or oversized bodies). */
  rawBody?: string;
  park?: string;
  uid?: string;
}

export interface TestInstanceOptions extends Pick<InstanceOptions, "extraKinds" | "extraRoutes"> {
  /** The runtime's clock (a ManualClock moves days in a millisecond). */
  clock?: Clock;
  /** Another instance's database: this one shares its schema (and its CRM tables). */
  db?: TestDatabase;
}

export async function startTestInstance(env: Record<string, string> = {}, options: TestInstanceOptions = {}): Promise<TestInstance> {
  const testDb = options.db ?? (await testDatabase("inst"));
  const config = loadConfig({
    PORT: "0",
    AUTH_TOKENS: Object.entries(TOKENS)
      .map(([r, t]) => `${r}=${t}`)
      .join(","),
    DEMO_DATA: "false",
    MAILING_RETRY_BASE_MS: "50",
    // The CRM tables live in the test's own schema, dropped with it.
    CRM_SCHEMA: testDb.schema,
    ...env,
  });
  const { extraKinds, extraRoutes, clock } = options;
  const instance = await startInstance(config, {
    db: testDb,
    logger: silentLogger,
    ...(clock ? { clock } : {}),
    ...(extraKinds ? { extraKinds } : {}),
    ...(extraRoutes ? { extraRoutes } : {}),
  });
  return {
    ...instance,
    testDb,
    call: async (method, path, options = {}) => {
      const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
      const token = options.token === undefined ? TOKENS.fleet : options.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (options.park !== undefined) headers["x-park-id"] = options.park;
      if (options.uid !== undefined || options.park !== undefined) headers["x-yandex-uid"] = options.uid ?? "1001";
      const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      const res = await fetch(instance.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    close: async () => {
      await instance.stop();
      if (!options.db) await testDb.drop();
    },
  };
}
