// Postgres unreachable for a while (a proxy cuts the connections): commits retry by themselves,
// nothing is acknowledged before it is stored, and every acknowledged ask is there afterwards.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorSystem } from "../../actors/ActorSystem.ts";
import { InProcessTransport } from "../../actors/transport/InProcessTransport.ts";
import { openPostgres, type Database } from "../../storage/database.ts";
import { loadSnapshot } from "../../storage/actorStore.ts";
import { counterKind } from "../support/counterKind.ts";
import { eventually, silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";

let db: TestDatabase;
let proxy: TcpProxy;
let viaProxy: Database;
beforeAll(async () => {
  db = await testDatabase("outage");
  proxy = await startTcpProxy(5432);
  viaProxy = await openPostgres({ url: `postgres://postgres@127.0.0.1:${proxy.port}/test`, schema: db.schema, max: 4 });
});
afterAll(async () => {
  await viaProxy.close().catch(() => {});
  await proxy.close();
  await db.drop();
});

describe("database outage", () => {
  it("asks wait while Postgres is unreachable, then complete; every acknowledged one is stored", async () => {
    const system = new ActorSystem({ sql: viaProxy.sql, kinds: [counterKind()], transport: new InProcessTransport(), logger: silentLogger, background: false });
    await system.ask("counter/outage", { type: "increment" });

    proxy.cut();
    const acked: number[] = [];
    const during = Array.from({ length: 10 }, () =>
      system.ask<{ count: number }>("counter/outage", { type: "increment" }, { timeoutMs: 15_000 }).then((r) => acked.push(r.count)),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(acked).toEqual([]); // nothing is acknowledged while it cannot be stored
    proxy.restore();

    await Promise.all(during);
    expect(acked.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    await eventually(async () => ((await loadSnapshot(db.sql, "counter", "outage"))!.snapshot as { context: { count: number } }).context.count === 11);
    await system.stop();
  });

  it("a redelivered message whose first delivery is not committed yet is acked only after it is, and applied once", async () => {
    const system = new ActorSystem({ sql: viaProxy.sql, kinds: [counterKind()], transport: new InProcessTransport(), logger: silentLogger, background: false });
    await system.ask("counter/redelivered", { type: "increment" });
    proxy.cut();
    let acks = 0;
    const first = system.tell("counter/redelivered", { type: "increment", by: 10 }, { messageId: "m-1", timeoutMs: 15_000 }).then(() => acks++);
    const again = system.tell("counter/redelivered", { type: "increment", by: 10 }, { messageId: "m-1", timeoutMs: 15_000 }).then(() => acks++);
    await new Promise((r) => setTimeout(r, 500));
    expect(acks).toBe(0);
    proxy.restore();
    await Promise.all([first, again]);
    expect(await system.ask("counter/redelivered", { type: "increment", by: 0 })).toEqual({ count: 11 });
    await system.stop();
  });
});
