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

  it("a crash while delivered messages wait for their delete: the next relay's sweep delivers them again, then deletes them", async () => {
    let crashed = false;
    // After the crash nothing of the first process reaches the database any more.
    const dying = new Proxy(db.sql, {
      apply: (target, self, args: unknown[]) => (crashed ? Promise.reject(new Error("the process is gone")) : Reflect.apply(target, self, args)),
    });
    const delivered: string[] = [];
    const first = new OutboxRelay(dying, async (m) => void delivered.push(m.messageId), silentLogger);
    const [message] = await insert("crash-1");
    first.dispatch([message!]);
    await eventually(() => expect(delivered).toEqual(["crash-1"]));
    crashed = true; // before its delete, which waits for company
    await new Promise((r) => setTimeout(r, 300));
    expect(await left(["crash-1"])).toBe(1);

    const next = new OutboxRelay(db.sql, async (m) => void delivered.push(m.messageId), silentLogger);
    expect(await next.sweep(0)).toBe(1);
    expect(delivered).toEqual(["crash-1", "crash-1"]); // at least once: receivers drop the repeat by its id
    await eventually(async () => (await left(["crash-1"])) === 0);
  });
});
