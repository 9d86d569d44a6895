// The outbox relay's cleanup: what it delivered leaves the outbox, in as few statements as it can.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutboxRelay } from "../../actors/OutboxRelay.ts";
import type { Sql } from "../../storage/database.ts";
import type { OutboxMessage } from "../../storage/actorStore.ts";
import { eventually, silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase("outbox");
});
afterAll(async () => {
  await db.drop();
});

/** The database, counting the outbox deletes sent through it. */
function countingDeletes(sql: Sql): { sql: Sql; deletes: () => number } {
  let deletes = 0;
  const counting = new Proxy(sql, {
    apply(target, self, args: unknown[]) {
      if (Array.isArray(args[0]) && args[0].join("").startsWith("delete from actor_outbox")) deletes++;
      return Reflect.apply(target, self, args);
    },
  });
  return { sql: counting, deletes: () => deletes };
}

const insert = async (...ids: string[]): Promise<OutboxMessage[]> => {
  const messages = ids.map((messageId) => ({ messageId, kind: "event" as const, target: `fleet.events.test.${messageId}`, payload: {} }));
  for (const m of messages)
    await db.sql`insert into actor_outbox (message_id, kind, target, payload) values (${m.messageId}, ${m.kind}, ${m.target}, ${db.sql.json({})})`;
  return messages;
};
const left = async (ids: string[]) => (await db.sql`select 1 from actor_outbox where message_id = any(${ids})`).length;

describe("outbox relay", () => {
  it("messages dispatched one by one, by commits a few turns apart, are deleted in one statement", async () => {
    const { sql, deletes } = countingDeletes(db.sql);
    const delivered: string[] = [];
    const relay = new OutboxRelay(sql, async (m) => void delivered.push(m.messageId), silentLogger);
    const messages = await insert("one-by-one-1", "one-by-one-2", "one-by-one-3");
    for (const m of messages) {
      relay.dispatch([m]);
      // Turns pass between commits: a delete sent at the end of each would carry one message.
      for (let turn = 0; turn < 3; turn++) await new Promise((r) => setImmediate(r));
    }
    const ids = messages.map((m) => m.messageId);
    await eventually(async () => (await left(ids)) === 0);
    expect(delivered).toEqual(ids);
    expect(deletes()).toBe(1);
  });

  it("stopping sends the delete waiting for company at once, and deletes what is delivered later", async () => {
    const { sql, deletes } = countingDeletes(db.sql);
    const relay = new OutboxRelay(sql, async () => {}, silentLogger);
    const [waiting] = await insert("stopping-1");
    relay.dispatch([waiting!]);
    await new Promise((r) => setImmediate(r));
    expect(deletes()).toBe(0);
    relay.stop(); // the database may close right after
    expect(deletes()).toBe(1);
    const [late] = await insert("stopping-2");
    relay.dispatch([late!]);
    await eventually(async () => (await left(["stopping-1", "stopping-2"])) === 0);
    expect(deletes()).toBe(2);
  });
});
