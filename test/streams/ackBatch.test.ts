// Acks written as one protocol command per batch (AckBatch) on real JetStream: every message of
// the batch is settled, none twice, and a message acked this way ignores a later nak.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { AckBatch, commandWriter } from "../../streams/statusConsumer.ts";
import { eventually } from "../support/harness.ts";
import { statusNamespace, type StatusNamespace } from "./statusStream.support.ts";

let ns: StatusNamespace;
beforeAll(async () => {
  ns = await statusNamespace();
});
afterAll(async () => {
  await ns?.close();
});

async function take(count: number): Promise<{ messages: JsMsg[]; pending: () => Promise<{ ackPending: number; redelivered: number }> }> {
  const jsm = await jetstreamManager(ns.nc);
  const stream = ns.env.STATUS_STREAM!;
  const name = `acks-${count}`;
  await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000 });
  const consumer = await ns.js.consumers.get(stream, name);
  const messages: JsMsg[] = [];
  const batch = await consumer.fetch({ max_messages: count, expires: 2_000 });
  for await (const m of batch) messages.push(m);
  return {
    messages,
    pending: async () => {
      const info = await jsm.consumers.info(stream, name);
      return { ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
    },
  };
}

describe("AckBatch", () => {
  it("the pinned NATS client offers the one-write path", () => {
    expect(commandWriter(ns.nc)).toBeTypeOf("function");
  });

  it("settles every message of a batch in one write, each once, and a later nak changes nothing", async () => {
    for (let i = 0; i < 250; i++) await ns.publish({ park_id: "p", driver_id: `d${i}`, status: "online", updated_at: 1_700_000_000_000 + i });
    const { messages, pending } = await take(250);
    expect(messages).toHaveLength(250);
    expect((await pending()).ackPending).toBe(250);

    const writes: string[] = [];
    const write = commandWriter(ns.nc)!;
    const acks = new AckBatch((commands) => {
      writes.push(commands);
      write(commands);
    });
    for (const m of messages) acks.add(m);
    acks.add(messages[0]!); // twice in one batch: one ack
    acks.flush();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.match(/\+ACK/g)).toHaveLength(250);

    for (const m of messages) m.nak(); // settled already: sends nothing
    await ns.nc.flush();
    await eventually(async () => (await pending()).ackPending === 0);
    // Past the ack wait, nothing comes back.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await pending()).toEqual({ ackPending: 0, redelivered: 0 });
  });
});
