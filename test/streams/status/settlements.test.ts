// Settlements on real JetStream: acks written as one protocol command per turn of the event loop
// settle every message once; a nak hands back what is still held; +WPI keeps a message alive.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { commandWriter, Settlements } from "../../../streams/status/settlements.ts";
import { eventually } from "../../support/harness.ts";
import { statusNamespace, type StatusNamespace } from "./statusStream.support.ts";

let ns: StatusNamespace;
beforeAll(async () => {
  ns = await statusNamespace();
});
afterAll(async () => {
  await ns?.close();
});

/** A consumer of its own on the namespace's stream, and `count` messages fetched from it. */
async function take(name: string, count: number, ackWaitMs: number, maxAckPending = 1_000) {
  const jsm = await jetstreamManager(ns.nc);
  const stream = ns.env.STATUS_STREAM!;
  await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, ack_wait: ackWaitMs * 1_000_000, max_ack_pending: maxAckPending });
  const consumer = await ns.js.consumers.get(stream, name);
  const fetch = async (max: number) => {
    const got: JsMsg[] = [];
    for await (const m of await consumer.fetch({ max_messages: max, expires: 1_000 })) got.push(m);
    return got;
  };
  const messages = await fetch(count);
  return {
    messages,
    /** What the consumer delivers now, within a second. */
    again: fetch,
    state: async () => {
      const info = await jsm.consumers.info(stream, name);
      return { ackPending: info.num_ack_pending, redelivered: info.num_redelivered, pending: info.num_pending };
    },
  };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Settlements", () => {
  beforeAll(async () => {
    for (let i = 0; i < 250; i++) await ns.publish({ park_id: "p", driver_id: `d${i}`, status: "online", updated_at: 1_700_000_000_000 + i });
  });

  it("the pinned NATS client offers the protocol writer", () => {
    expect(commandWriter(ns.nc)).toBeTypeOf("function");
  });

  it("acks of a turn leave as one write, each message once; nothing comes back after the ack wait", async () => {
    const { messages, state } = await take("acks", 250, 2_000);
    expect(messages).toHaveLength(250);
    const settlements = new Settlements(ns.nc);
    const handles = messages.map((m) => settlements.take(m));
    expect(settlements.size).toBe(250);
    for (const h of handles) h.ack();
    handles[0]!.ack(); // twice: one ack
    expect(settlements.size).toBe(0);
    expect(settlements.handBack()).toBe(0); // nothing held: nothing naked
    await eventually(async () => (await state()).ackPending === 0);
    await settle(2_500);
    expect(await state()).toEqual({ ackPending: 0, redelivered: 0, pending: 0 });
  });

  it("handBack naks what is still held, at once; what was acked stays acked", async () => {
    const { messages, again } = await take("naks", 10, 60_000);
    const settlements = new Settlements(ns.nc);
    const handles = messages.map((m) => settlements.take(m));
    for (const h of handles.slice(0, 4)) h.ack();
    expect(settlements.handBack()).toBe(6);
    handles[5]!.ack(); // handed back already: sends nothing
    // Delivered again long before the 60 s ack wait: the naks landed; the acked four did not come back.
    const redelivered: number[] = [];
    await eventually(async () => {
      for (const m of await again(10)) if (m.redelivered) redelivered.push(m.seq);
      return redelivered.length >= 6;
    });
    expect(redelivered.sort((a, b) => a - b)).toEqual(messages.slice(4).map((m) => m.seq));
  });

  it("working keeps a message from coming back past its ack wait", async () => {
    const { messages, state, again } = await take("working", 1, 2_000, 1); // one in flight: a fetch can only bring it back
    const settlements = new Settlements(ns.nc);
    const handle = settlements.take(messages[0]!);
    const keepAlive = setInterval(() => handle.working(), 300);
    try {
      await settle(2_500);
      expect(await again(1)).toHaveLength(0); // past the 2 s ack wait: without +WPI it would be here
    } finally {
      clearInterval(keepAlive);
    }
    handle.ack();
    await eventually(async () => (await state()).ackPending === 0);
  });
});
