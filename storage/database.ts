// The two storage backends behind one interface: real Postgres and embedded PGlite, both driven
// through postgres.js so every repository runs the very same SQL on either.
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { migrate } from "./migrate.ts";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;
/** A piece of SQL (with its parameters) to embed in a statement; never run alone. */
export type Fragment = postgres.Fragment;
/** Anything that runs a query: the pool or a transaction. Repository functions take it first. */
export type Queryable = Sql | Tx;

/** The statement over `rows`, or none when there are none: a projection writes nothing for no rows. */
export const statementFor = <Row>(rows: readonly Row[], statement: (rows: readonly Row[]) => Fragment): Fragment[] =>
  rows.length === 0 ? [] : [statement(rows)];

export interface Database {
  readonly sql: Sql;
  readonly backend: "postgres" | "pglite";
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: string;
  /** Own schema (created if absent); tests use one each so they never see each other's rows. */
  schema?: string;
  max?: number;
  /**
   * Postgres ends a statement running longer than `statementMs` (57014) and a session idle inside a
   * transaction longer than `idleInTransactionMs` (25P03, the connection closes), so a runaway query
   * or a forgotten transaction cannot hold rows and connections for good. Unset: the server's.
   */
  timeouts?: { statementMs: number; idleInTransactionMs: number };
}

const quiet = { onnotice: () => {} } as const;

/**
 * Connects to Postgres and applies pending migrations.
 * @example const db = await openPostgres({ url: "postgres://postgres@127.0.0.1/test", schema: "t1" })
 */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  if (options.schema) {
    const admin = postgres(options.url, { max: 1, ...quiet });
    await admin`create schema if not exists ${admin(options.schema)}`;
    await admin.end();
  }
  const { schema, timeouts } = options;
  const sql: Sql = postgres(options.url, {
    max: options.max ?? 10,
    ...quiet,
    connection: {
      ...(schema ? { search_path: schema } : {}),
      ...(timeouts ? { statement_timeout: timeouts.statementMs, idle_in_transaction_session_timeout: timeouts.idleInTransactionMs } : {}),
    },
  });
  await migrate(sql);
  return { sql, backend: "postgres", close: () => sql.end({ timeout: 5 }) };
}

/**
 * Starts an embedded PGlite (in memory, or persisted in `dataDir`) behind a local socket and
 * connects postgres.js to it. PGlite runs one query at a time, so the pool holds one connection.
 */
export async function openEmbedded(options: { dataDir?: string } = {}): Promise<Database> {
  const pglite = options.dataDir ? await PGlite.create({ dataDir: options.dataDir }) : await PGlite.create();
  const server = new PGLiteSocketServer({ db: pglite, port: 0, host: "127.0.0.1", maxConnections: 1 });
  await server.start();
  const sql: Sql = postgres(`postgres://postgres@${server.getServerConn()}/postgres`, { max: 1, ...quiet });
  await migrate(sql);
  return {
    sql,
    backend: "pglite",
    close: async () => {
      await sql.end({ timeout: 5 });
      await server.stop();
      await pglite.close();
    },
  };
}

/** Drops a schema made by `openPostgres({ schema })`; for tests and benches. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const admin = postgres(url, { max: 1, ...quiet });
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
}

/**
 * A write Postgres refuses for the data itself (SQLSTATE class 22 data exception, e.g. a number
 * out of range, or 23 integrity constraint violation): retrying the same rows fails the same way.
 */
export function isPermanentWriteError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && /^(22|23)[0-9A-Z]{3}$/.test(code);
}
