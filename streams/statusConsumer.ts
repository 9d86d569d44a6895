// The status stream's JetStream side: the stream and durable consumer for driver statuses (made
// if absent), the dead-letter stream, messages as an Observable, and running the pipeline on
// them. Every instance of a cluster consumes from the same durable consumer; JetStream hands each
// message to one of them, and the runtime routes each tell to the instance hosting that actor.
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { Observable, type Subscription } from "rxjs";
import type { Logger } from "../actors/logger.ts";
import type { Settle, StatusMessage } from "./statusMessages.ts";
import { statusStream, type StatusStreamOptions, type StatusStreamSources } from "./statusStream.ts";

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

/**
 * Messages still held by the pipeline; on stop they are handed back (nak) for redelivery at once.
 * A linked list through the messages themselves: in and out in constant time, nothing to hash.
 */
class Outstanding {
  #head: JetStreamStatus | undefined;
  #size = 0;
  add(m: JetStreamStatus): void {
    m.next = this.#head;
    if (this.#head) this.#head.prev = m;
    this.#head = m;
    this.#size++;
  }
  delete(m: JetStreamStatus): void {
    if (m.prev) m.prev.next = m.next;
    else if (this.#head === m) this.#head = m.next;
    else return; // not in the list (settled twice)
    if (m.next) m.next.prev = m.prev;
    m.prev = m.next = undefined;
    this.#size--;
  }
  handBack(): number {
    const n = this.#size;
    // Unlinked as they go: a handed-back message settled later must find itself out of the list.
    for (let m = this.#head; m; ) {
      const next = m.next;
      m.prev = m.next = undefined;
      m.message.nak();
      m = next;
    }
    this.#head = undefined;
    this.#size = 0;
    return n;
  }
  get size(): number {
    return this.#size;
  }
}

/**
 * Writes protocol commands straight to the NATS connection's outbound buffer. nats-core (pinned)
 * keeps this as `protocol.sendCommand`; absent after an upgrade, acks go one `ack()` at a time.
 */
type CommandWriter = (commands: string) => void;

export function commandWriter(nc: NatsConnection): CommandWriter | undefined {
  const protocol = (nc as unknown as { protocol?: { sendCommand?: unknown; noMorePublishing?: boolean } }).protocol;
  if (!protocol || typeof protocol.sendCommand !== "function") return undefined;
  const send = protocol.sendCommand.bind(protocol) as (command: string) => void;
  return (commands) => {
    // Closing or closed: the messages stay unacknowledged and come back, as after a crash.
    if (nc.isClosed() || protocol.noMorePublishing) return;
    send(commands);
  };
}

const ACK_COMMAND_TAIL = " 4\r\n+ACK\r\n";

/** What `JsMsgImpl` holds beside the `JsMsg` interface: its reply subject and whether it was settled. */
type JetStreamDelivery = JsMsg & { readonly reply: string; didAck: boolean };

/**
 * Acks leave together, once per turn of the event loop, as one protocol write: `ack()` per
 * message would encode a command into a fresh buffer each (about a tenth of the instance's time
 * at 20,000 statuses/s). Tells complete one promise chain at a time, so acked as they complete,
 * a few acks would cost one socket write.
 */
export class AckBatch {
  #messages: JsMsg[] = [];
  #scheduled = false;
  constructor(private readonly write: CommandWriter | undefined) {}
  add(message: JsMsg): void {
    this.#messages.push(message);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.flush);
  }
  readonly flush = (): void => {
    this.#scheduled = false;
    const messages = this.#messages;
    this.#messages = [];
    if (!this.write) {
      for (const m of messages) m.ack();
      return;
    }
    let commands = "";
    for (const m of messages) {
      const delivery = m as JetStreamDelivery;
      if (delivery.didAck) continue;
      delivery.didAck = true; // as ack() marks it: a later ack or nak of it sends nothing
      commands += `PUB ${delivery.reply}${ACK_COMMAND_TAIL}`;
    }
    if (commands) this.write(commands);
  };
}

/**
 * One JetStream message as the pipeline sees it, and the handle that settles it (one object per
 * message). Its stream sequence is parsed from the reply subject only when asked (dead letters).
 */
class JetStreamStatus implements StatusMessage, Settle {
  prev: JetStreamStatus | undefined;
  next: JetStreamStatus | undefined;
  constructor(
    readonly message: JsMsg,
    private readonly outstanding: Outstanding | undefined,
    private readonly acks: AckBatch | undefined,
  ) {}
  get seq(): number {
    return this.message.seq;
  }
  get data(): Uint8Array {
    return this.message.data;
  }
  get settle(): Settle {
    return this;
  }
  ack(): void {
    this.outstanding?.delete(this);
    if (this.acks) this.acks.add(this.message);
    else this.message.ack();
  }
  working(): void {
    this.message.working();
  }
}

/**
 * The consumer's messages; unsubscribing stops pulling. The callback form of `consume` (about
 * 2.4x the async iterator's rate); pulls are bounded by the consumer's `max_ack_pending`.
 */
export function jetStreamMessages(consumer: Consumer, pullBatch: number, outstanding?: Outstanding, acks?: AckBatch): Observable<StatusMessage> {
  return new Observable<StatusMessage>((subscriber) => {
    let stop: (() => void) | undefined;
    let closed = false;
    consumer
      .consume({
        max_messages: pullBatch,
        callback: (m) => {
          const status = new JetStreamStatus(m, outstanding, acks);
          outstanding?.add(status);
          subscriber.next(status);
        },
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

export interface RunningStatusStream {
  /** Messages taken from JetStream and not yet settled. */
  readonly outstanding: () => number;
  stop(): Promise<void>;
}

export interface StatusConsumerOptions {
  readonly natsUrl: string;
  readonly connectionName: string;
  readonly names: StatusStreamNames;
  readonly limits: ConsumerLimits;
  readonly sources: Omit<StatusStreamSources, "messages" | "deadLetter">;
  readonly options: StatusStreamOptions;
  readonly logger: Logger;
}

/**
 * Connects, makes sure the streams and the consumer exist, and runs the pipeline until `stop`.
 * @example const running = await runStatusStream({ natsUrl, names, limits, sources, options, logger, connectionName })
 */
export async function runStatusStream(config: StatusConsumerOptions): Promise<RunningStatusStream> {
  const nc: NatsConnection = await connect({ servers: config.natsUrl.split(","), name: config.connectionName, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStatusStream(jsm, config.names, config.limits);
    const js = jetstream(nc);
    const consumer = await js.consumers.get(config.names.stream, config.names.consumer);
    const outstanding = new Outstanding();
    const acks = new AckBatch(commandWriter(nc));
    const writeDeadLetter = deadLetterWriter(js, config.names);
    const deadLetter = (message: StatusMessage, reason: string) =>
      writeDeadLetter(message, reason).catch((error: unknown) => {
        config.logger.warn("dead letter not written; the message comes back", { seq: message.seq, error: String(error) });
        throw error;
      });
    let subscription: Subscription | undefined;
    const run = () => {
      subscription = statusStream({ ...config.sources, messages: jetStreamMessages(consumer, config.limits.pullBatch, outstanding, acks), deadLetter }, config.options).subscribe({
        error: (error) => {
          // Operators retry their own failures; anything reaching here is a bug or a lost consumer: start over.
          config.logger.error("status stream failed; restarting it", { error: String(error) });
          outstanding.handBack();
          setTimeout(run, 1_000);
        },
      });
    };
    run();
    return {
      outstanding: () => outstanding.size,
      stop: async () => {
        subscription?.unsubscribe();
        acks.flush();
        // What was taken but not told goes back to JetStream now, for another instance (or the next start).
        outstanding.handBack();
        await nc.drain().catch(() => {});
      },
    };
  } catch (error) {
    await nc.close().catch(() => {});
    throw error;
  }
}
