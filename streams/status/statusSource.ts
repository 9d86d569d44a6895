// The status stream's JetStream side: the stream and durable consumer for driver statuses (made
// if absent), the dead-letter stream, the messages as an Observable and how they are settled, and
// the status source decoding them on this thread (statusIngest.ts runs it on a worker thread).
// Every instance of a cluster consumes from the same durable consumer; JetStream hands each
// message to one of them, and the runtime routes each tell to the instance hosting that actor.
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
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
  /** How long the stream keeps statuses nobody consumed (when this service creates it). */
  readonly maxAgeMs: number;
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

/** A protocol write straight to the NATS connection's outbound buffer. */
type CommandWriter = (commands: string) => void;

/**
 * nats-core keeps the connection's protocol writer as `protocol.sendCommand`: internal, so the
 * @nats-io packages are pinned and test/streams/settlements.test.ts fails if it moves.
 */
export function commandWriter(nc: NatsConnection): CommandWriter {
  const protocol = (nc as unknown as { protocol?: { sendCommand?: unknown; noMorePublishing?: boolean } }).protocol;
  if (!protocol || typeof protocol.sendCommand !== "function") {
    throw new Error("this @nats-io/nats-core has no protocol.sendCommand: the status consumer's settlements need the pinned version");
  }
  const send = protocol.sendCommand.bind(protocol) as (command: string) => void;
  return (commands) => {
    // Closing or closed: the messages stay unacknowledged and come back, as after a crash.
    if (nc.isClosed() || protocol.noMorePublishing) return;
    send(commands);
  };
}

/** The reply subject JetStream delivered a message with: where its ack, nak or +WPI goes. */
const replyOf = (m: JsMsg): string => (m as JsMsg & { readonly reply: string }).reply;

/**
 * The settle handle of one message held by the pipeline. It keeps only the reply subject, not
 * the message: held statuses wait out the coalescing window, and what they keep alive is what
 * every young-generation GC copies.
 */
class JetStreamSettle implements Settle {
  prev: JetStreamSettle | undefined;
  next: JetStreamSettle | undefined;
  settled = false;
  constructor(
    readonly reply: string,
    private readonly settlements: Settlements,
  ) {}
  ack(): void {
    this.settlements.ack(this);
  }
  working(): void {
    this.settlements.working(this);
  }
}

/**
 * How the messages taken from JetStream are settled. Acks (and +WPI, and naks) collect and leave
 * once per turn of the event loop as one protocol write: `ack()` per message would encode a
 * command into a fresh buffer each (about a tenth of the instance's time at 20,000 statuses/s),
 * and tells complete one promise chain at a time. The messages not settled yet are a linked list
 * through their handles (in and out in constant time, nothing to hash); on stop they are handed
 * back (nak) for redelivery at once.
 */
export class Settlements {
  #head: JetStreamSettle | undefined;
  #size = 0;
  #commands = "";
  #scheduled = false;
  readonly #write: CommandWriter;
  constructor(nc: NatsConnection) {
    this.#write = commandWriter(nc);
  }

  /** A handle for a message just delivered, held until settled. */
  take(m: JsMsg): Settle {
    const handle = new JetStreamSettle(replyOf(m), this);
    handle.next = this.#head;
    if (this.#head) this.#head.prev = handle;
    this.#head = handle;
    this.#size++;
    return handle;
  }

  ack(handle: JetStreamSettle): void {
    if (handle.settled) return;
    handle.settled = true;
    this.#unlink(handle);
    this.#send(`PUB ${handle.reply} 4\r\n+ACK\r\n`);
  }

  working(handle: JetStreamSettle): void {
    if (!handle.settled) this.#send(`PUB ${handle.reply} 4\r\n+WPI\r\n`);
  }

  /** Naks every message still held (they go to another instance, or the next start) and writes now. */
  handBack(): number {
    const n = this.#size;
    for (let h = this.#head; h; ) {
      const next = h.next;
      h.prev = h.next = undefined;
      h.settled = true;
      this.#commands += `PUB ${h.reply} 4\r\n-NAK\r\n`;
      h = next;
    }
    this.#head = undefined;
    this.#size = 0;
    this.flush();
    return n;
  }

  get size(): number {
    return this.#size;
  }

  readonly flush = (): void => {
    this.#scheduled = false;
    const commands = this.#commands;
    this.#commands = "";
    if (commands) this.#write(commands);
  };

  #send(command: string): void {
    this.#commands += command;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.flush);
  }

  #unlink(h: JetStreamSettle): void {
    if (h.prev) h.prev.next = h.next;
    else if (this.#head === h) this.#head = h.next;
    else return; // handed back already
    if (h.next) h.next.prev = h.prev;
    h.prev = h.next = undefined;
    this.#size--;
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
export function deadLetterWriter(js: JetStreamClient, names: StatusStreamNames): (message: StatusMessage, reason: string) => Promise<void> {
  const text = new TextDecoder();
  return async (message, reason) => {
    const body = { reason, stream: names.stream, stream_seq: message.seq, subject: names.subject, data: text.decode(message.data) };
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
  const nc: NatsConnection = await connect({
    servers: config.natsUrl.split(","),
    name: config.connectionName,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStatusStream(jsm, config.names, config.limits);
    const js = jetstream(nc);
    const consumer = await js.consumers.get(config.names.stream, config.names.consumer);
    const settlements = new Settlements(nc);
    const writeDeadLetter = deadLetterWriter(js, config.names);
    const deadLetter = (message: StatusMessage, reason: string) =>
      writeDeadLetter(message, reason).catch((error: unknown) => {
        config.logger.warn("dead letter not written; the message comes back", { seq: message.seq, error: String(error) });
        throw error;
      });
    return {
      statuses: jetStreamMessages(consumer, config.limits.pullBatch, settlements).pipe(decodeStatuses(deadLetter, config.count)),
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
