// The durable baseline: what a minimal correct implementation of a bench's path must do before it
// answers, beyond the raw path: commit one row to Postgres. Our paths answer after their commit
// too (ack after persist), so a bench's ratio to raw + commit is what our code adds on top of
// durability itself, and raw + commit against raw is what durability costs on this machine.
import type { Sql } from "../storage/database.ts";

/** Commits one row per call before resolving: each call its own commit, or grouped. */
export interface DurableWrite {
  commit(key: string): Promise<void>;
}

const table = "bench_durable_baseline";

/** Creates the baseline's table in `sql`'s schema (once per schema, before the first commit). */
export async function createDurableBaselineTable(sql: Sql): Promise<void> {
  await sql`create table if not exists ${sql(table)} (id bigint generated always as identity primary key, key text not null, at timestamptz not null default now())`;
}

/** One autocommit INSERT per call, on the pool's connections. */
export function commitEach(sql: Sql): DurableWrite {
  return { commit: async (key) => void (await sql`insert into ${sql(table)} (key) values (${key})`) };
}

/**
 * Group commit at its simplest, as the runtime's (actors/GroupCommit.ts) without lingering or
 * fences: every call made in the same tick shares one multi-row INSERT; up to `maxInFlight`
 * INSERTs at once, calls arriving meanwhile wait for the next free one.
 */
export function commitGrouped(sql: Sql, maxInFlight = 4): DurableWrite {
  let waiting: { key: string; done: () => void; failed: (e: unknown) => void }[] = [];
  let inFlight = 0;
  let scheduled = false;
  const write = async (batch: typeof waiting) => {
    try {
      await sql`insert into ${sql(table)} ${sql(batch.map((w) => ({ key: w.key })))}`;
      for (const w of batch) w.done();
    } catch (error) {
      for (const w of batch) w.failed(error);
    }
  };
  const schedule = () => {
    if (scheduled || waiting.length === 0 || inFlight >= maxInFlight) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const batch = waiting;
      waiting = [];
      inFlight++;
      void write(batch).finally(() => {
        inFlight--;
        schedule();
      });
      schedule();
    });
  };
  return {
    commit: (key) =>
      new Promise((done, failed) => {
        waiting.push({ key, done, failed });
        schedule();
      }),
  };
}
