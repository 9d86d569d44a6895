// The status stream's JetStream side: the stream and durable consumer for driver statuses (made
// if absent), the dead-letter stream, the messages as an Observable (settled by settlements.ts),
// and the status source decoding them on this thread (statusIngest.ts runs it on a worker thread).
// Every instance of a cluster consumes from the same durable consumer; JetStream hands each
// message to one of them, and the runtime routes each tell to the instance hosting that actor.
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { connectNats, type NatsAuth } from "../../actors/transport/natsConnection.ts";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { Observable } from "rxjs";
import type { Logger } from "../../actors/logger.ts";
import type { CountOutcome, DriverStatus, Settle, StatusMessage } from "./statusMessages.ts";
import { Settlements } from "./settlements.ts";
import { decodeStatuses } from "./statusOperators.ts";

export interface StatusStreamNames {
  /** JetStream stream holding `subject`. */
  readonly stream: string;
  /** `contractor.statuses.events` in production. */
  readonly subject: string;
  /** Durable consumer shared by every instance. */
  readonly consumer: string;
  readonly deadLetterStream: string;
  readonly deadLetterSubject: string;
}

export interface ConsumerLimits {
  /** Unacknowledged messages JetStream lets out at once: the pipeline's bound on what is in flight. */
  readonly maxAckPending: number;
  /** A message not acknowledged (nor kept alive) for this long is delivered again, e.g. to another instance. */
  readonly ackWaitMs: number;
  /** Messages per pull request. */
  readonly pullBatch: number;
  /** How long the stream keeps statuses nobody consumed (when this service creates it); an older status is dead-lettered. */
  readonly maxAgeMs: number;
  /** A status dated further than this into the future (a wrong clock) is dead-lettered, never stored as the newest. */
  readonly maxFutureSkewMs: number;
}

async function ensureStream(jsm: JetStreamManager, name: string, subject: string, maxAgeMs: number): Promise<void> {
  const existing = await jsm.streams.info(name).catch(() => undefined);
  if (existing) return;
  await jsm.streams.add({ name, subjects: [subject], retention: RetentionPolicy.Limits, storage: StorageType.File, max_age: nanos(maxAgeMs) });
}

/** Creates the stream, the dead-letter stream and the durable consumer if absent; aligns the consumer's limits. */
export async function ensureStatusStream(jsm: JetStreamManager, names: StatusStreamNames, limits: ConsumerLimits): Promise<void> {
  await ensureStream(jsm, names.stream, names.subject, limits.maxAgeMs);
  await ensureStream(jsm, names.deadLetterStream, names.deadLetterSubject, 7 * 86_400_000);
  const config = { ack_wait: nanos(limits.ackWaitMs), max_ack_pending: limits.maxAckPending };
  const consumer = await jsm.consumers.info(names.stream, names.consumer).catch(() => undefined);
  if (!consumer) {
    await jsm.consumers.add(names.stream, {
      durable_name: names.consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: names.subject,
      max_deliver: -1,
      ...config,
    });
  } else if (consumer.config.ack_wait !== config.ack_wait || consumer.config.max_ack_pending !== config.max_ack_pending) {
    await jsm.consumers.update(names.stream, names.consumer, config);
  }
}

/** One JetStream message as the pipeline's decode step sees it; its stream sequence is parsed only when asked (dead letters). */
class JetStreamStatus implements StatusMessage {
  constructor(
    private readonly message: JsMsg,
    readonly settle: Settle,
  ) {}
  get seq(): number {
    return this.message.seq;
  }
  get data(): Uint8Array {
    return this.message.data;
  }
}

/**
 * The consumer's messages; unsubscribing stops pulling. The callback form of `consume` (about
 * 2.4x the async iterator's rate); pulls are bounded by the consumer's `max_ack_pending`.
 */
export function jetStreamMessages(consumer: Consumer, pullBatch: number, settlements: Settlements): Observable<StatusMessage> {
  return new Observable<StatusMessage>((subscriber) => {
    let stop: (() => void) | undefined;
    let closed = false;
    consumer
      .consume({
        max_messages: pullBatch,
        callback: (m) => subscriber.next(new JetStreamStatus(m, settlements.take(m))),
      })
      .then(
        (messages) => {
          stop = () => void messages.stop();
          if (closed) stop();
        },
        (error) => subscriber.error(error),
      );
    return () => {
      closed = true;
      stop?.();
    };
  });
}

/** Writes a malformed message, with the reason, to the dead-letter subject (durably, via JetStream). */
export function deadLetterWriter(
  js: JetStreamClient,
  names: StatusStreamNames,
): (message: Pick<StatusMessage, "seq" | "data">, reason: string, detail?: unknown) => Promise<void> {
  const text = new TextDecoder();
  return async (message, reason, detail) => {
    // A message given up on later (its tell kept failing) is still in the stream under its seq; `detail` says what it meant.
    const body = {
      reason,
      stream: names.stream,
      stream_seq: message.seq,
      subject: names.subject,
      ...(message.data.length ? { data: text.decode(message.data) } : {}),
      ...(detail === undefined ? {} : { detail }),
    };
    // The id makes a redelivered bad message one dead letter, not two.
    await js.publish(names.deadLetterSubject, JSON.stringify(body), { msgID: `${names.stream}:${message.seq}` });
  };
}

/** Where the pipeline's statuses come from: the consumer's messages, decoded (dead letters written). */
export interface StatusSource {
  /** Subscribing starts pulling, unsubscribing stops it; what was taken stays held until settled. */
  readonly statuses: Observable<DriverStatus>;
  /** Messages taken from JetStream and not yet settled. */
  outstanding(): number;
  /** Naks every message not settled yet: they come back at once (to this or another instance). */
  handBack(): void;
  /** The durable consumer's backlog as JetStream counts it, every instance's share included. */
  lag(): Promise<ConsumerLag>;
  /** Hands back what is held and closes the connection. */
  stop(): Promise<void>;
}

export interface ConsumerLag {
  /** In the stream, not yet delivered to any instance. */
  readonly undelivered: number;
  /** Delivered and not yet acknowledged. */
  readonly unacknowledged: number;
}

export interface StatusSourceOptions {
  readonly natsUrl: string;
  /** Login and TLS of the connection (plain data: the worker thread gets it too); absent: none. */
  readonly natsAuth?: NatsAuth;
  readonly connectionName: string;
  readonly names: StatusStreamNames;
  readonly limits: ConsumerLimits;
  readonly logger: Logger;
  readonly count: CountOutcome;
}

/**
 * Connects, makes sure the streams and the consumer exist, and decodes the consumer's messages on
 * this thread (`statusIngest.ts` runs it on a worker thread instead).
 */
export async function openStatusSource(config: StatusSourceOptions): Promise<StatusSource> {
  const nc: NatsConnection = await connectNats({ servers: config.natsUrl, name: config.connectionName, auth: config.natsAuth ?? {} });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStatusStream(jsm, config.names, config.limits);
    const js = jetstream(nc);
    const consumer = await js.consumers.get(config.names.stream, config.names.consumer);
    const writeDeadLetter = deadLetterWriter(js, config.names);
    const settlements = new Settlements(nc, (seq, reason, detail) =>
      writeDeadLetter({ seq, data: new Uint8Array() }, reason, detail).then(
        () => config.count("dead_lettered"),
        (error: unknown) => {
          config.logger.warn("dead letter not written; the message comes back", { seq, error: String(error) });
          throw error;
        },
      ),
    );
    const deadLetter = (message: StatusMessage, reason: string) =>
      writeDeadLetter(message, reason).catch((error: unknown) => {
        config.logger.warn("dead letter not written; the message comes back", { seq: message.seq, error: String(error) });
        throw error;
      });
    return {
      statuses: jetStreamMessages(consumer, config.limits.pullBatch, settlements).pipe(
        decodeStatuses(deadLetter, config.count, { now: Date.now, maxFutureMs: config.limits.maxFutureSkewMs, maxAgeMs: config.limits.maxAgeMs }),
      ),
      outstanding: () => settlements.size,
      handBack: () => void settlements.handBack(),
      lag: async () => {
        const info = await jsm.consumers.info(config.names.stream, config.names.consumer);
        return { undelivered: info.num_pending, unacknowledged: info.num_ack_pending };
      },
      stop: async () => {
        settlements.handBack();
        await nc.drain().catch(() => {});
      },
    };
  } catch (error) {
    await nc.close().catch(() => {});
    throw error;
  }
}
