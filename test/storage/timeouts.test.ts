// The pool's bounds on Postgres: a query that would run forever is cancelled at statement_timeout
// (a 503 database_timeout at the edge), a transaction left idle is ended at
// idle_in_transaction_session_timeout, and the pool serves the next query either way.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHttpError } from "../../http/errors.ts";
import { dropSchema, openPostgres, type Database } from "../../storage/database.ts";
import { DATABASE_URL, eventually } from "../support/harness.ts";

const schema = `timeouts_${process.pid}`;
let db: Database;
beforeAll(async () => {
  db = await openPostgres({ url: DATABASE_URL, schema, max: 2, timeouts: { statementMs: 1_500, idleInTransactionMs: 300 } });
});
afterAll(async () => {
  await db?.close();
  await dropSchema(DATABASE_URL, schema);
});

describe("database timeouts", () => {
  it("a query that would run for a minute is cancelled at statement_timeout, answered as 503 database_timeout; the pool goes on", async () => {
    const error = await db.sql`select pg_sleep(60)`.catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe("57014");
    expect(toHttpError(error).body()).toEqual({ code: "database_timeout", message: "the database did not answer in time" });
    expect((await db.sql`select 1 as one`)[0]!.one).toBe(1);
  });

  it("a transaction left idle (waiting on something outside the database) is ended by Postgres, its row locks released", async () => {
    await db.sql`create table if not exists held (id int primary key)`;
    await db.sql`insert into held values (1) on conflict do nothing`;
    const idle = await db.sql.reserve();
    try {
      await idle`begin`;
      const pid = (await idle<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
      await idle`select id from held where id = 1 for update`;
      // Nothing more on `idle`: the row lock goes with its session, well before statement_timeout.
      const [row] = await db.sql`select id from held where id = 1 for update`;
      expect(row!.id).toBe(1);
      await eventually(async () => (await db.sql`select 1 from pg_stat_activity where pid = ${pid}`).length === 0);
    } finally {
      idle.release();
    }
    // The ended session's connection may fail its next query once (503 database_unavailable); then the pool serves again.
    await eventually(async () => (await db.sql`select 1 as one`)[0]!.one === 1);
  });
});
