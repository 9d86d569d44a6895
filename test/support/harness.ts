// Shared test harness: a private schema on the real Postgres per suite, dropped afterwards.
import { randomBytes } from "node:crypto";
import type { Accepted } from "../../storage/actorStore.ts";
import { dropSchema, openPostgres, type Database, type Fragment, type Queryable, type Sql } from "../../storage/database.ts";

export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase extends Database {
  schema: string;
  /** Another connection pool on the same schema, as a second instance would have. */
  reopen(): Promise<Database>;
  drop(): Promise<void>;
}

export async function testDatabase(prefix = "t"): Promise<TestDatabase> {
  const schema = `${prefix}_${randomBytes(5).toString("hex")}`;
  const db = await openPostgres({ url: DATABASE_URL, schema, max: 4 });
  const opened: Database[] = [db];
  return {
    ...db,
    schema,
    reopen: async () => {
      const other = await openPostgres({ url: DATABASE_URL, schema, max: 4 });
      opened.push(other);
      return other;
    },
    drop: async () => {
      await Promise.all(opened.map((d) => d.close().catch(() => {})));
      await dropSchema(DATABASE_URL, schema);
    },
  };
}

/**
 * Takes `table`'s EXCLUSIVE lock in a transaction of its own (writers wait, readers do not) and
 * resolves once it is held; `release` ends the transaction. Rejects if the lock cannot be taken.
 */
export async function lockTable(sql: Sql, table: string): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let taken!: () => void;
  const held = new Promise<void>((resolve) => (taken = resolve));
  const transaction = sql.begin(async (tx) => {
    await tx`lock table ${tx(table)} in exclusive mode`;
    taken();
    await released;
  });
  await Promise.race([held, transaction]);
  return {
    release: async () => {
      release();
      await transaction;
    },
  };
}

export const silentLogger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** The check's own source, so a timeout names the condition that failed. */
const describeCheck = (check: () => unknown) => check.toString().replace(/\s+/g, " ").slice(0, 160);

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws). The default is
 * generous: it only costs time when something is broken, and CI machines are slow and shared.
 */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 15_000, everyMs = 20): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`condition not met in ${timeoutMs} ms: ${describeCheck(check)}${last ? `, last error: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Runs a projection's statements as the group commit does (one statement, each a CTE of it), every
 * row's actor accepted: for tests of a projection's SQL without actors.
 */
export async function runProjection(sql: Queryable, statements: (accepted: Accepted) => readonly Fragment[]): Promise<void> {
  const built = statements(() => sql`true`);
  if (built.length === 0) return;
  await sql`with ${built.map((s, i) => sql`${i ? sql`,` : sql``} ${sql(`projection_${i}`)} as (${s})`)} select 1`;
}
