// The benches' durable baseline commits what it claims before it answers: each call its own
// transaction, or every call of a tick in one.
import { afterAll, beforeAll, expect, it } from "vitest";
import { commitEach, commitGrouped, createDurableBaselineTable } from "../../bench/durableBaseline.ts";
import { testDatabase, type TestDatabase } from "../support/harness.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase("durable_baseline");
  await createDurableBaselineTable(db.sql);
});
afterAll(() => db.drop());

/** The transactions that wrote `key`'s rows, as seen from another connection. */
async function transactionsOf(key: string): Promise<{ rows: number; transactions: number }> {
  const other = await db.reopen();
  const [row] = await other.sql<{ rows: number; transactions: number }[]>`
    select count(*)::int as rows, count(distinct xmin::text)::int as transactions from bench_durable_baseline where key = ${key}`;
  return row!;
}

it("commits each call in its own transaction before it resolves", async () => {
  const durable = commitEach(db.sql);
  await Promise.all(Array.from({ length: 5 }, () => durable.commit("each")));
  expect(await transactionsOf("each")).toEqual({ rows: 5, transactions: 5 });
});

it("commits the calls of one tick in one transaction before they resolve", async () => {
  const durable = commitGrouped(db.sql);
  await Promise.all(Array.from({ length: 50 }, () => durable.commit("grouped")));
  expect(await transactionsOf("grouped")).toEqual({ rows: 50, transactions: 1 });
});

it("rejects every call of a grouped commit that failed, and commits none of them", async () => {
  const durable = commitGrouped(db.sql);
  const settled = await Promise.allSettled([durable.commit("failed"), durable.commit(null as unknown as string)]); // key is not null
  expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected"]);
  expect(await transactionsOf("failed")).toEqual({ rows: 0, transactions: 0 });
});
