// The NATS transport with a paused former owner still subscribed to a shard (as NATS keeps a
// frozen client's subscriptions until its pings time out): envelopes that name the new owner's
// epoch are answered by it alone; a stale sender is told to retry; nothing is handled twice.
import { afterAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NatsTransport } from "../../actors/transport/NatsTransport.ts";
import { shardOf } from "../../actors/cluster/sharding.ts";
import type { Envelope, Reply } from "../../actors/protocol.ts";
import { UnavailableError } from "../../actors/errors.ts";
import { silentLogger } from "../support/harness.ts";

const shardCount = 4;
const to = { type: "ledger", id: "a" };
const shard = shardOf(to, shardCount);
const connections: NatsConnection[] = [];

const transport = async (prefix: string, view: { owned?: number; ownerEpoch: number }, handler?: (e: Envelope) => Promise<Reply>) => {
  const nc = await connect({ servers: "nats://127.0.0.1:4222" });
  connections.push(nc);
  const t = new NatsTransport(nc, {
    prefix,
    shardCount,
    logger: silentLogger,
    owns: (s) => s === shard && view.owned !== undefined,
    epochOf: (s) => (s === shard ? (view.owned ?? 0) : 0),
    ownerEpochOf: (s) => (s === shard ? view.ownerEpoch : 0),
  });
  if (handler) {
    t.serve(handler);
    t.serveShard(shard);
  }
  await nc.flush();
  return t;
};

const envelope = (n: number): Envelope => ({ to, event: { type: "apply", n }, messageId: `m${n}`, replyTo: `m${n}`, deadline: Date.now() + 1_500 });

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
});

describe("NATS transport with a paused former owner", () => {
  it("only the holder of the epoch the sender names handles the envelope", async () => {
    const prefix = `t${randomBytes(3).toString("hex")}`;
    const handled = { frozen: 0, owner: 0 };
    // The former owner (epoch 3) is paused: it takes envelopes and never answers.
    await transport(prefix, { owned: 3, ownerEpoch: 3 }, () => {
      handled.frozen++;
      return new Promise<Reply>(() => {});
    });
    await transport(prefix, { owned: 7, ownerEpoch: 7 }, async (e) => {
      handled.owner++;
      return { ok: true, value: e.messageId };
    });
    const caller = await transport(prefix, { ownerEpoch: 7 });

    const replies = await Promise.all(Array.from({ length: 30 }, (_, n) => caller.send(envelope(n))));
    expect(replies.map((r) => (r.ok ? r.value : r.code))).toEqual(Array.from({ length: 30 }, (_, n) => `m${n}`));
    expect(handled).toEqual({ frozen: 0, owner: 30 });
  });

  it("a sender whose view is behind is told to retry, and the fenced former owner never wins", async () => {
    const prefix = `t${randomBytes(3).toString("hex")}`;
    let resumedHandled = 0;
    // The former owner has resumed but not yet learned it lost the shard: its commits are fenced.
    await transport(prefix, { owned: 3, ownerEpoch: 3 }, async () => {
      resumedHandled++;
      await new Promise((r) => setTimeout(r, 50));
      return { ok: false, code: "stale_actor", message: "fenced" };
    });
    let ownerHandled = 0;
    await transport(prefix, { owned: 7, ownerEpoch: 7 }, async () => {
      ownerHandled++;
      return { ok: true, value: "applied" };
    });

    const behind = await transport(prefix, { ownerEpoch: 3 });
    const reply = await behind.send(envelope(1));
    expect(reply).toMatchObject({ ok: false, code: "actor_unavailable" });
    expect(ownerHandled).toBe(0);

    const current = await transport(prefix, { ownerEpoch: 7 });
    expect(await current.send(envelope(2))).toEqual({ ok: true, value: "applied" });
    expect(resumedHandled).toBe(1); // only the envelope naming its own epoch, and that one was fenced
  });

  it("an envelope for a shard this instance owns never leaves the process", async () => {
    const prefix = `t${randomBytes(3).toString("hex")}`;
    const local = await transport(prefix, { owned: 5, ownerEpoch: 5 }, async () => ({ ok: true, value: "local" }));
    const nc = connections.at(-1)!;
    const before = nc.stats().outMsgs;
    expect(await local.send(envelope(1))).toEqual({ ok: true, value: "local" });
    expect(nc.stats().outMsgs).toBe(before);
  });

  it("no owner anywhere: unavailable, so the caller retries", async () => {
    const caller = await transport(`t${randomBytes(3).toString("hex")}`, { ownerEpoch: 0 });
    await expect(caller.send(envelope(1))).rejects.toBeInstanceOf(UnavailableError);
  });
});
