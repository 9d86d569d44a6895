import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorSystem } from "../../actors/ActorSystem.ts";
import { ActorError } from "../../actors/errors.ts";
import { InProcessTransport } from "../../actors/transport/InProcessTransport.ts";
import { loadSnapshot } from "../../storage/actorStore.ts";
import { counterKind } from "../support/counterKind.ts";
import { silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase("poison_commit");
  // The projection's table refuses counts of 1000 and more: a value no retry will ever store.
  await db.sql`create table counter_view (id text primary key, count bigint not null check (count < 1000))`;
});
afterAll(async () => {
  await db.drop();
});

const viewedCounter = () =>
  counterKind({
    project: (sql, actors, accepted) => [
      sql`insert into counter_view (id, count)
        select x.id, x.count from jsonb_to_recordset(${sql.json(actors.map((a) => ({ id: a.id, count: a.context.count })))}::jsonb) as x(id text, count bigint)
        where ${accepted(sql`x.id`)}
        on conflict (id) do update set count = excluded.count`,
    ],
  });

function system() {
  return new ActorSystem({ sql: db.sql, kinds: [viewedCounter()], transport: new InProcessTransport(), logger: silentLogger, background: false });
}

describe("a commit the database refuses for its data", () => {
  it("is answered once with commit_rejected, commits the rest of its batch, and the actor goes on from its last commit", async () => {
    const s = system();
    await s.ask("counter/poisoned", { type: "increment", by: 5 });
    const [good, bad, alsoGood] = await Promise.allSettled([
      s.ask<{ count: number }>("counter/neighbour-1", { type: "increment", by: 1 }),
      s.ask("counter/poisoned", { type: "increment", by: 5000 }),
      s.ask<{ count: number }>("counter/neighbour-2", { type: "increment", by: 2 }),
    ]);
    expect(good).toEqual({ status: "fulfilled", value: { count: 1 } });
    expect(alsoGood).toEqual({ status: "fulfilled", value: { count: 2 } });
    expect(bad.status).toBe("rejected");
    const error = (bad as PromiseRejectedResult).reason as ActorError;
    expect(error).toBeInstanceOf(ActorError);
    expect(error.code).toBe("commit_rejected");
    expect(error.message).toMatch(/check constraint/);

    // The refused turn never happened: the snapshot and the view keep the last committed count.
    expect((await loadSnapshot(db.sql, "counter", "poisoned"))!.snapshot).toMatchObject({ context: { count: 5 } });
    expect(await db.sql`select count from counter_view where id = 'poisoned'`).toEqual([{ count: "5" }]);
    // The actor answers the next valid request from there.
    expect(await s.ask("counter/poisoned", { type: "increment", by: 1 })).toEqual({ count: 6 });

    const rejected = (await s.metrics.actorsRetired.get()).values.find((v) => v.labels.reason === "rejected");
    expect(rejected?.value).toBe(1);
    await s.stop(); // returns: nothing is left retrying
  });

  it("a tell whose turn is refused is acknowledged with the error, not retried by the actor forever", async () => {
    const s = system();
    const reply = await s.tell("counter/told", { type: "increment", by: 2000 }).then(
      () => "acked",
      (e: ActorError) => e.code,
    );
    expect(reply).toBe("commit_rejected");
    expect(await loadSnapshot(db.sql, "counter", "told")).toBeUndefined();
    await s.stop();
  });
});
