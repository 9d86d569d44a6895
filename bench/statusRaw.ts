// The raw baseline of bench:status: what any design of the status stream pays at the least, on
// the same machine, publisher, stream limits and decode — take each message from the durable
// consumer, read it with the same Schema, acknowledge it (through the same batched settlements). No lookups, actors or Postgres. Our
// pipeline's rate is reported as a ratio to this one, measured in the same run, so the figure
// does not depend on how fast (or how shared) the machine is that day.
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { ensureStatusStream, jetStreamMessages, type ConsumerLimits, type StatusStreamNames } from "../streams/status/statusSource.ts";
import { Settlements } from "../streams/status/settlements.ts";
import { readStatus } from "../streams/status/statusOperators.ts";

export interface RawConsumer {
  /** Messages read and acknowledged so far (a malformed one is acknowledged too, and counted apart). */
  readonly counts: () => { read: number; malformed: number };
  stop(): Promise<void>;
}

export async function startRawConsumer(natsUrl: string, names: StatusStreamNames, limits: ConsumerLimits): Promise<RawConsumer> {
  const nc = await connect({ servers: natsUrl });
  await ensureStatusStream(await jetstreamManager(nc), names, limits);
  const consumer = await jetstream(nc).consumers.get(names.stream, names.consumer);
  let read = 0;
  let malformed = 0;
  const subscription = jetStreamMessages(consumer, limits.pullBatch, new Settlements(nc)).subscribe((message) => {
    if ("status" in readStatus(message.data)) read++;
    else malformed++;
    message.settle.ack();
  });
  return {
    counts: () => ({ read, malformed }),
    stop: async () => {
      subscription.unsubscribe();
      await nc.drain();
    },
  };
}
