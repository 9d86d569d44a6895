import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorSystem, type ActorSystemOptions } from "../../actors/ActorSystem.ts";
import { stateName, type ActorKind } from "../../actors/ActorKind.ts";
import { InProcessTransport } from "../../actors/transport/InProcessTransport.ts";
import { ManualClock } from "../../actors/clock.ts";
import { AskTimeoutError, EventRejectedError, StaleActorError, UnavailableError } from "../../actors/errors.ts";
import { loadSnapshot, raiseShardFence, readJournal } from "../../storage/actorStore.ts";
import { counterKind, type CounterContext } from "../support/counterKind.ts";
import { eventually, silentLogger, testDatabase, type TestDatabase } from "../support/harness.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase("runtime");
});
afterAll(async () => {
  await db.drop();
});

function system(options: Partial<ActorSystemOptions> = {}) {
  return new ActorSystem({
    sql: db.sql,
    kinds: [counterKind()],
    transport: new InProcessTransport(),
    logger: silentLogger,
    background: false,
    ...options,
  });
}

describe("actor runtime", () => {
  it("ask - an acknowledged increment survives a crash of the runtime", async () => {
    const first = system();
    for (let i = 0; i < 5; i++) await first.ask("counter/crash", { type: "increment" });
    first.crash();
    const second = system();
    expect(await second.ask("counter/crash", { type: "increment" })).toEqual({ count: 6 });
    await second.stop();
  });

  it("ask - many concurrent asks to many actors are all applied, grouped into few commits", async () => {
    const s = system();
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => s.ask<{ count: number }>(`counter/many-${i % 20}`, { type: "increment" })));
    expect(replies).toHaveLength(200);
    const finals = await Promise.all(Array.from({ length: 20 }, (_, i) => loadSnapshot(db.sql, "counter", `many-${i}`)));
    expect(finals.map((f) => (f!.snapshot as { context: { count: number } }).context.count)).toEqual(Array(20).fill(10));
    const batches = (await s.metrics.commitBatch.get()).values.find((v) => v.metricName?.endsWith("_count"))!.value;
    expect(batches).toBeLessThan(200);
    await s.stop();
  });

  it("ask - an ask that reaches its actor after the caller's deadline is dropped, not applied: a timeout means not done", async () => {
    const slow = new InProcessTransport();
    const send = slow.send.bind(slow);
    slow.send = async (envelope) => {
      await new Promise((r) => setTimeout(r, 120)); // the network holds the envelope past its deadline
      return send(envelope);
    };
    const s = system({ transport: slow });
    const late = await s.ask("counter/late", { type: "increment", by: 100 }, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(AskTimeoutError);
    await new Promise((r) => setTimeout(r, 150)); // the envelope has arrived by now
    expect(await s.ask("counter/late", { type: "increment", by: 1 })).toEqual({ count: 1 });
    await s.stop();
  });

  it("ask - an actor that does not answer in time rejects with a typed AskTimeoutError", async () => {
    const unanswered = new InProcessTransport();
    unanswered.send = () => new Promise(() => {}); // a host that never answers
    const s = system({ transport: unanswered });
    const error = (await s.ask("counter/slow", { type: "increment" }, { timeoutMs: 50 }).catch((e: unknown) => e)) as AskTimeoutError;
    expect(error).toBeInstanceOf(AskTimeoutError);
    expect(error.code).toBe("actor_timeout");
    await s.stop();
  });

  it("ask - an attempt whose reply was lost on the way is retried under the same id: applied once, answered with its reply", async () => {
    const lossy = new InProcessTransport();
    const deliver = lossy.send.bind(lossy);
    let attempts = 0;
    lossy.send = async (envelope) => {
      const reply = await deliver(envelope);
      if (++attempts === 1) throw new UnavailableError("connection lost before the reply came back");
      return reply;
    };
    const s = system({ transport: lossy });
    expect(await s.ask("counter/lossy", { type: "increment" })).toEqual({ count: 1 });
    expect(attempts).toBe(2);
    expect(((await loadSnapshot(db.sql, "counter", "lossy"))!.snapshot as { context: { count: number } }).context.count).toBe(1);
    expect(await s.ask("counter/lossy", { type: "increment" })).toEqual({ count: 2 });
    await s.stop();
  });

  it("ask - an event the state does not accept is a typed rejection and changes nothing", async () => {
    const s = system();
    await s.ask("counter/closing", { type: "increment" });
    await s.ask("counter/closing", { type: "close" });
    const error = await s.ask("counter/closing", { type: "increment" }).catch((e) => e);
    expect(error).toBeInstanceOf(EventRejectedError);
    expect((await loadSnapshot(db.sql, "counter", "closing"))!.version).toBe(2);
    await s.stop();
  });

  it("optimistic concurrency - a write with a stale version is rejected and the actor reloads", async () => {
    const other = await db.reopen();
    const a = system();
    const b = system({ sql: other.sql });
    await a.ask("counter/contended", { type: "increment" });
    await b.ask("counter/contended", { type: "increment" }); // b activates at version 1: count 2
    await a.ask("counter/contended", { type: "increment" }).catch((e) => e); // a is stale: reload, retry
    const view = await a.ask<{ count: number }>("counter/contended", { type: "increment" });
    expect(view.count).toBe(4);
    const stored = await loadSnapshot(db.sql, "counter", "contended");
    expect((stored!.snapshot as { context: { count: number } }).context.count).toBe(4);
    await a.stop();
    await b.stop();
  });

  it("optimistic concurrency - a stale write with no time left surfaces as StaleActorError", async () => {
    const other = await db.reopen();
    const a = system();
    const b = system({ sql: other.sql });
    await a.ask("counter/stale", { type: "increment" });
    await b.ask("counter/stale", { type: "increment" });
    const error = await a.ask("counter/stale", { type: "increment" }, { timeoutMs: 1 }).catch((e) => e);
    expect([StaleActorError, AskTimeoutError].some((c) => error instanceof c)).toBe(true);
    await a.stop();
    await b.stop();
  });

  it("fencing - once a new owner raised the shard's epoch, the former owner's writes are rejected", async () => {
    const other = await db.reopen();
    let formerEpoch = 1;
    const former = system({ placement: { shardOf: () => 3, epochOf: () => formerEpoch, owns: () => true, ownedShards: () => [3] } });
    const owner = system({ sql: other.sql, placement: { shardOf: () => 3, epochOf: () => 2, owns: () => true, ownedShards: () => [3] } });
    await former.ask("counter/fenced", { type: "increment" });
    await raiseShardFence(db.sql, 3, 2); // the new owner acquired shard 3 with epoch 2
    expect(await owner.ask("counter/fenced", { type: "increment" })).toEqual({ count: 2 });
    const error = await former.ask("counter/fenced", { type: "increment" }, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect([StaleActorError, AskTimeoutError].some((c) => error instanceof c)).toBe(true);
    expect((await former.metrics.actorsRetired.get()).values.some((v) => v.labels.reason === "stale" && v.value > 0)).toBe(true);
    expect((await loadSnapshot(db.sql, "counter", "fenced"))!.snapshot).toMatchObject({ context: { count: 2 } });
    formerEpoch = 2; // had it won the shard back, its writes would land again
    expect(await former.ask("counter/fenced", { type: "increment" })).toEqual({ count: 3 });
    await former.stop();
    await owner.stop();
  });

  it("durable timer - set before a restart, it fires once after it, at its due time", async () => {
    const clock = new ManualClock();
    const first = system({ clock });
    await first.ask("counter/timer", { type: "remind", afterMs: 7 * 86_400_000 });
    await first.stop();

    const second = system({ clock });
    expect(await second.timers.poll()).toBe(0); // not yet due
    clock.advance(7 * 86_400_000);
    expect(await second.timers.poll()).toBe(1);
    expect(await second.timers.poll()).toBe(0); // consumed: fires once
    const view = await second.ask<{ context: { reminders: number } }>("counter/timer", { type: "remind", afterMs: 1 });
    expect(view.context.reminders).toBe(1);
    await second.ask("counter/timer", { type: "cancelReminder" });
    clock.advance(10);
    expect(await second.timers.poll()).toBe(0);
    await second.stop();
  });

  it("durable timer - a backlog of due timers larger than a page is drained by one poll", async () => {
    const clock = new ManualClock();
    const s = system({ clock });
    const actors = 1_200;
    await Promise.all(Array.from({ length: actors }, (_, i) => s.ask(`counter/backlog-${i}`, { type: "remind", afterMs: 1_000 })));
    clock.advance(1_000);
    expect(await s.timers.poll()).toBe(actors);
    const reminded = await db.sql<{ n: string }[]>`select count(*) as n from actor_snapshots
      where actor_type = 'counter' and actor_id like 'backlog-%' and (snapshot->'context'->>'reminders')::int = 1`;
    expect(Number(reminded[0]!.n)).toBe(actors);
    await s.stop();
  });

  it("durable timer - a stop ends the deliveries under way: no attempt after it, the timer stays due and fires after the restart", async () => {
    const clock = new ManualClock();
    const first = system({ clock });
    await first.ask("counter/cut-by-stop", { type: "remind", afterMs: 1_000 });
    await first.stop();

    // The host the timer goes to is moving (as a stopping one is): every attempt is refused as unavailable.
    const moving = new InProcessTransport();
    let attempts = 0;
    moving.send = async () => {
      attempts++;
      return Promise.reject(new UnavailableError("the host is stopping"));
    };
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (msg: string) => void warnings.push(msg) };
    const stopping = system({ clock, transport: moving, logger });
    clock.advance(1_000);
    const delivering = stopping.timers.poll();
    await eventually(() => expect(attempts).toBeGreaterThan(0));
    await stopping.stop();
    expect(await delivering).toBe(0);
    const attemptsAtStop = attempts;
    await new Promise((r) => setTimeout(r, 600)); // longer than the retries' longest pause
    expect(attempts).toBe(attemptsAtStop);
    expect(warnings).toEqual([]);

    const next = system({ clock });
    expect(await next.timers.poll()).toBe(1);
    expect((await loadSnapshot(db.sql, "counter", "cut-by-stop"))!.snapshot).toMatchObject({ context: { reminders: 1 } });
    await next.stop();
  });

  it("durable timer - in a cluster an instance reads its own shards' timers: a page of earlier ones of other shards does not hide them", async () => {
    const clock = new ManualClock();
    const shardOf = (address: { id: string }) => (address.id.startsWith("theirs-") ? 2 : 1);
    const everything = system({ clock, placement: { shardOf, epochOf: () => 0, owns: () => true, ownedShards: () => [1, 2] } });
    // More timers of shard 2 than one page, all due before the one of shard 1.
    await Promise.all(Array.from({ length: 600 }, (_, i) => everything.ask(`counter/theirs-${i}`, { type: "remind", afterMs: 1_000 })));
    await everything.ask("counter/mine", { type: "remind", afterMs: 2_000 });
    await everything.stop();

    const shardOne = system({ clock, placement: { shardOf, epochOf: () => 0, owns: (shard) => shard === 1, ownedShards: () => [1] } });
    clock.advance(2_000);
    expect(await shardOne.timers.poll()).toBe(1);
    const view = await shardOne.ask<{ context: { reminders: number } }>("counter/mine", { type: "remind", afterMs: 60_000 });
    expect(view.context.reminders).toBe(1);
    await shardOne.stop();
  });

  it("passivation - an idle actor is dropped from memory and reactivates with its state", async () => {
    const clock = new ManualClock();
    const s = system({ clock });
    await s.ask("counter/sleepy", { type: "increment", by: 3 });
    clock.advance(60_000);
    expect(await s.host.passivateIdle(30_000)).toBeGreaterThanOrEqual(1);
    expect(s.host.hosted().some((c) => c.key === "counter/sleepy")).toBe(false);
    expect(await s.ask("counter/sleepy", { type: "increment" })).toEqual({ count: 4 });
    await s.stop();
  });

  it("sleep - an idle actor keeps only its snapshot; its next message brings it back with its state, journal and remembered ids", async () => {
    const clock = new ManualClock();
    const s = system({ clock });
    await s.tell("counter/dozing", { type: "increment", by: 3 }, { messageId: "first" });
    clock.advance(60_000);
    expect(s.host.sleepIdle(30_000)).toBeGreaterThanOrEqual(1);
    const cell = s.host.hosted().find((c) => c.key === "counter/dozing")!;
    expect(cell.dormant).toBe(true);
    expect(cell.snapshot()).toMatchObject({ value: "open", context: { count: 3 } });

    await s.tell("counter/dozing", { type: "increment", by: 3 }, { messageId: "first" }); // a redelivery
    expect(await s.ask("counter/dozing", { type: "increment" })).toEqual({ count: 4 });
    expect(cell.dormant).toBe(false);
    const journal = await readJournal(db.sql, "counter", "dozing");
    expect(journal.map((j) => [j.seq, (j.event as { type: string }).type])).toEqual([
      [1, "xstate.init"],
      [2, "increment"],
      [3, "increment"],
    ]);
    await s.stop();
  });

  it("sleep - the ids remembered while asleep survive waking, a second sleep, and the window's rewrite after it", async () => {
    const clock = new ManualClock();
    const s = system({ clock });
    const count = async () => ((await loadSnapshot(db.sql, "counter", "insomniac"))!.snapshot as { context: { count: number } }).context.count;
    const tell = (i: number) => s.tell("counter/insomniac", { type: "increment" }, { messageId: `m-${i}` });
    for (let i = 0; i < 10; i++) await tell(i);
    clock.advance(60_000);
    s.host.sleepIdle(30_000);
    await tell(3); // redelivered to the sleeping actor
    expect(await count()).toBe(10);
    clock.advance(60_000);
    s.host.sleepIdle(30_000); // asleep again, after waking for the redelivery
    // More than 32 ids appended since the last rewrite: the next commit rewrites the stored window
    // from the ids in memory, which must still hold the ten from before the sleeps.
    for (let i = 10; i < 50; i++) await tell(i);
    s.crash();

    const again = system({ clock });
    for (const i of [0, 9, 10, 49]) await again.tell("counter/insomniac", { type: "increment" }, { messageId: `m-${i}` });
    expect(await count()).toBe(50);
    const stored = await loadSnapshot(db.sql, "counter", "insomniac");
    expect(new Set(stored!.processedIds)).toEqual(new Set(Array.from({ length: 50 }, (_, i) => `m-${i}`)));
    await again.stop();
  });

  it("sleep - an actor asleep in a final state wakes with exactly its stored snapshot and stays final", async () => {
    const clock = new ManualClock();
    const s = system({ clock });
    await s.ask("counter/rich", { type: "increment", by: 2 });
    await s.ask("counter/rich", { type: "close" });
    const stored = (await loadSnapshot(db.sql, "counter", "rich"))!.snapshot as { value: unknown; context: unknown };
    clock.advance(60_000);
    s.host.sleepIdle(30_000);
    const cell = s.host.hosted().find((c) => c.key === "counter/rich")!;
    expect(cell.dormant).toBe(true);
    expect(cell.snapshot()).toEqual({ value: stored.value, context: stored.context, version: 2 });
    await expect(s.ask("counter/rich", { type: "increment" })).rejects.toBeInstanceOf(EventRejectedError); // closed stays closed
    expect(cell.dormant).toBe(false);
    await s.stop();
  });

  it("sleep - many actors idle together sleep a slice per tick, all of them in the end, and a message meanwhile is served", async () => {
    const clock = new ManualClock();
    const s = system({ clock, sleepSliceMs: 0 }); // a slice of one actor
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.ask(`counter/flock-${i}`, { type: "increment" })));
    clock.advance(60_000);
    expect(s.host.sleepIdle(30_000)).toBe(1);
    expect(await s.ask("counter/flock-19", { type: "increment" })).toEqual({ count: 2 });
    await eventually(async () => s.host.hosted().filter((c) => c.dormant).length === 19);
    expect(s.host.hosted().find((c) => c.key === "counter/flock-19")!.dormant).toBe(false); // active again since
    await s.stop();
  });

  it("sleep - the reply of an ask is kept for its retries until its deadline, and let go with the live actor after it", async () => {
    const clock = new ManualClock();
    const s = system({ clock });
    const to = { type: "counter", id: "retried" };
    const ask = (deadline: number) => s.host.receive({ to, event: { type: "increment" }, messageId: "ask-1", replyTo: "ask-1", deadline });
    const deadline = Date.now() + 200;
    expect(await ask(deadline)).toEqual({ ok: true, value: { count: 1 } });
    clock.advance(60_000);
    s.host.sleepIdle(30_000);
    expect(await ask(deadline)).toEqual({ ok: true, value: { count: 1 } }); // a retry before the deadline: the first reply

    await new Promise((r) => setTimeout(r, deadline + 10 - Date.now()));
    clock.advance(60_000);
    s.host.sleepIdle(30_000);
    expect(await ask(Date.now() + 1_000)).toEqual({ ok: true, value: { duplicate: true } }); // nobody waits for the first reply any more
    await s.stop();
  });

  it("outbox - a message to another actor is delivered after commit, and a redelivery is dropped", async () => {
    const s = system();
    await s.ask("counter/sender", { type: "forward", to: "counter/receiver", by: 5 });
    await eventually(
      async () => ((await loadSnapshot(db.sql, "counter", "receiver"))?.snapshot as { context: { count: number } } | undefined)?.context.count === 5,
    );
    // Redeliver the same message id, as a relay that crashed before deleting the row would.
    const [row] = await db.sql<{ message_id: string }[]>`select message_id from actor_outbox limit 1`.catch(() => []);
    const stored = await loadSnapshot(db.sql, "counter", "receiver");
    const messageId = row?.message_id ?? stored!.processedIds.at(-1)!;
    await s.tell("counter/receiver", { type: "increment", by: 5 }, { messageId });
    const after = await loadSnapshot(db.sql, "counter", "receiver");
    expect((after!.snapshot as { context: { count: number } }).context.count).toBe(5);
    await eventually(async () => (await db.sql`select 1 from actor_outbox`).length === 0);
    await s.stop();
  });

  it("outbox - messages left by a crash are delivered by the sweep of the next runtime", async () => {
    const s = system();
    await db.sql`insert into actor_outbox (message_id, kind, target, payload)
      values ('left-behind', 'tell', 'counter/swept', ${db.sql.json({ type: "increment", by: 2 })})`;
    expect(await s.outbox.sweep(0)).toBe(1);
    expect(await s.outbox.sweep(0)).toBe(0);
    expect(await s.ask("counter/swept", { type: "increment" })).toEqual({ count: 3 });
    await s.stop();
  });

  it("journal - every transition is appended with its event and states", async () => {
    const s = system();
    await s.ask("counter/journal", { type: "increment" });
    await s.ask("counter/journal", { type: "close" });
    const journal = await readJournal(db.sql, "counter", "journal");
    expect(journal.map((j) => [j.seq, (j.event as { type: string }).type, j.fromState, j.toState])).toEqual([
      [1, "xstate.init", null, "open"],
      [2, "increment", "open", "open"],
      [3, "close", "open", "closed"],
    ]);
    await s.stop();
  });

  it("projections - written when the part they read changes, skipped otherwise, also after a reload", async () => {
    const projectedCounts: number[][] = [];
    // The projection reads only the tens of the count.
    const kind = counterKind({
      project: (_sql, actors) => {
        projectedCounts.push(actors.map((a) => a.context.count));
        return [];
      },
      projected: ({ context }) => [Math.floor(context.count / 10)],
    });
    const s = system({ kinds: [kind] });
    for (const by of [1, 2, 3, 5, 1]) await s.ask("counter/projected", { type: "increment", by });
    expect(projectedCounts).toEqual([[1], [11]]);
    await s.stop();
    const again = system({ kinds: [kind] });
    await again.ask("counter/projected", { type: "increment", by: 1 });
    await again.ask("counter/projected", { type: "increment", by: 10 });
    expect(projectedCounts).toEqual([[1], [11], [23]]);
    await again.stop();
  });

  it("projections - a stale write leaves nothing of its projection; the winner's and the retry's stay", async () => {
    await db.sql`create table if not exists counter_projection_history (n serial primary key, id text not null, count integer not null)`;
    const kind = counterKind({
      project: (sql, actors, accepted) => [
        sql`insert into counter_projection_history (id, count)
          select x.id, x.count from jsonb_to_recordset(${sql.json(actors.map((a) => ({ id: a.id, count: a.context.count })))}::jsonb) as x(id text, count integer)
          where ${accepted(sql`x.id`)}`,
      ],
    });
    const other = await db.reopen();
    const a = system({ kinds: [kind] });
    const b = system({ kinds: [kind], sql: other.sql });
    await a.ask("counter/projected-stale", { type: "increment", by: 1 });
    await b.ask("counter/projected-stale", { type: "increment", by: 10 }); // b loads version 1: count 11
    // a still holds count 1: its write of 2 is stale, so it reloads (11) and retries: 12.
    expect(await a.ask("counter/projected-stale", { type: "increment", by: 1 })).toEqual({ count: 12 });
    const history = await db.sql<{ count: number }[]>`select count from counter_projection_history where id = 'projected-stale' order by n`;
    expect(history.map((r) => r.count)).toEqual([1, 11, 12]);
    await a.stop();
    await b.stop();
  });

  it("public events - at every state change by default; when what they say changes, for a kind that says what that is", async () => {
    const heard = async (published: ActorKind<CounterContext>["published"], id: string) => {
      const kind = counterKind({ publicEvent: ({ context }) => ({ count: context.count }), ...(published ? { published } : {}) });
      const transport = new InProcessTransport();
      const events: { state: string; count: number }[] = [];
      transport.subscribe("fleet.events.counter.*", (_subject, payload) => void events.push(payload as { state: string; count: number }));
      const s = system({ kinds: [kind], transport });
      for (let i = 0; i < 5; i++) await s.ask(`counter/${id}`, { type: "increment" });
      await s.tell(`counter/${id}`, { type: "close" });
      await eventually(() => events.some((e) => e.state === "closed"));
      await s.stop();
      return events.map((e) => `${e.state}:${e.count}`);
    };
    expect(await heard(undefined, "every-state")).toEqual(["closed:5"]);
    // Published when the count reaches 3 (no state change), and at the close (a state change it names).
    expect(await heard(({ value, context }) => [stateName(value), context.count >= 3], "on-change")).toEqual(["open:3", "closed:5"]);
  });

  it("deduplication - a kind keeps the number of message ids it asks for, and drops repeats among them, also after a crash", async () => {
    const first = system({ kinds: [counterKind({ rememberedIds: 2 })] });
    for (const id of ["m1", "m2", "m3"]) await first.tell("counter/few-ids", { type: "increment" }, { messageId: id });
    await first.tell("counter/few-ids", { type: "increment" }, { messageId: "m3" });
    first.crash();
    const second = system({ kinds: [counterKind({ rememberedIds: 2 })] });
    for (const id of ["m3", "m2", "m1"]) await second.tell("counter/few-ids", { type: "increment" }, { messageId: id });
    // m1 was forgotten, so applied again; the stored window is rewritten once as many ids as it holds were appended.
    expect(await loadSnapshot(db.sql, "counter", "few-ids")).toMatchObject({ processedIds: ["m3", "m1"], appendedIds: 0 });
    expect(await second.ask("counter/few-ids", { type: "increment", by: 0 })).toEqual({ count: 4 });
    await second.stop();
  });

  it("deduplication - a redelivery on another instance or after a crash is dropped though the commits since the window was last rewritten only appended their ids", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `appended-${i}`);
    const first = system();
    for (const messageId of ids) await first.tell("counter/appended", { type: "increment" }, { messageId });
    // The window was rewritten once on the way (a commit appends at most 32 ids before one rewrites it); six commits appended since.
    expect(await loadSnapshot(db.sql, "counter", "appended")).toMatchObject({ processedIds: ids, appendedIds: 6 });
    const handedOver = system(); // another instance taking the actor over loads what the first committed
    for (const messageId of ids) await handedOver.tell("counter/appended", { type: "increment" }, { messageId });
    expect(await handedOver.ask("counter/appended", { type: "increment", by: 0 })).toEqual({ count: 40 });
    await handedOver.stop();
    first.crash();
    const restarted = system();
    for (const messageId of ids) await restarted.tell("counter/appended", { type: "increment" }, { messageId });
    expect(await restarted.ask("counter/appended", { type: "increment", by: 0 })).toEqual({ count: 40 });
    await restarted.stop();
  });

  it("versioned state - a snapshot of an older machine version is migrated on activation", async () => {
    const old = system();
    await old.ask("counter/migrated", { type: "increment", by: 21 });
    await old.stop();
    // Machine version 2 doubles the count; the migration is what makes old snapshots fit.
    const migrate = (snapshot: { context: { count: number } }, from: number) => {
      expect(from).toBe(1);
      return { ...snapshot, context: { ...snapshot.context, count: snapshot.context.count * 2 } };
    };
    const next = system({ kinds: [counterKind({ version: 2, migrate })] });
    expect(await next.ask("counter/migrated", { type: "increment", by: 0 })).toEqual({ count: 42 });
    expect((await loadSnapshot(db.sql, "counter", "migrated"))!.machineVersion).toBe(2);
    await next.stop();
  });

  it("versioned state - mid rolling upgrade, an instance older than the stored machine version never applies nor writes: its callers are refused retryably, and an upgraded one serves them", async () => {
    const upgradedKind = () => counterKind({ version: 2, migrate: (snapshot) => snapshot });
    const upgraded = system({ kinds: [upgradedKind()] });
    await upgraded.ask("counter/ahead", { type: "increment", by: 5 });
    await upgraded.stop();
    // The older kind migrates older snapshots; a newer one is never handed to it.
    const older = system({ kinds: [counterKind({ version: 1, migrate: (snapshot) => snapshot })] });
    // Activation keeps failing until the deadline: a retryable refusal (504 or 503: whether the
    // deadline passed within an attempt or between two), never a failed actor, which the status
    // stream would dead-letter.
    const refused = await older.ask("counter/ahead", { type: "increment" }, { timeoutMs: 1_000 }).catch((error: unknown) => error);
    expect(["actor_timeout", "actor_unavailable"]).toContain((refused as { code?: string }).code);
    expect(await loadSnapshot(db.sql, "counter", "ahead")).toMatchObject({ machineVersion: 2, version: 1 });
    await older.stop();
    const next = system({ kinds: [upgradedKind()] });
    expect(await next.ask("counter/ahead", { type: "increment" })).toEqual({ count: 6 });
    await next.stop();
  });
});
