// How the status messages taken from JetStream are settled: their acks, +WPI and naks written
// straight to the connection, batched per turn of the event loop (see Settlements).
import type { NatsConnection } from "@nats-io/transport-node";
import type { JsMsg } from "@nats-io/jetstream";
import type { Settle } from "./statusMessages.ts";

/** A protocol write straight to the NATS connection's outbound buffer. */
type CommandWriter = (commands: string) => void;

/**
 * nats-core keeps the connection's protocol writer as `protocol.sendCommand`: internal, so the
 * @nats-io packages are pinned and test/streams/status/settlements.test.ts fails if it moves.
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
  reject(reason: string, detail?: unknown): void {
    this.settlements.reject(this, reason, detail);
  }
}

/** Writes a dead letter for the message at `streamSeq` in the status stream. */
export type RejectWriter = (streamSeq: number, reason: string, detail: unknown) => Promise<void>;

/** The stream sequence in a JetStream ack subject (`$JS.ACK.[domain.hash.]<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.token]`). */
const streamSeqOf = (reply: string): number => {
  const tokens = reply.split(".");
  return Number(tokens.length >= 12 ? tokens[tokens.length - 5] : tokens[tokens.length - 4]);
};

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
  /** Without `writeRejected`, a rejected message is left unacknowledged: it comes back. */
  constructor(
    nc: NatsConnection,
    private readonly writeRejected: RejectWriter = () => Promise.reject(new Error("no dead-letter writer")),
  ) {
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

  reject(handle: JetStreamSettle, reason: string, detail: unknown): void {
    if (handle.settled) return;
    this.writeRejected(streamSeqOf(handle.reply), reason, detail).then(
      () => this.ack(handle),
      () => {}, // stays unacknowledged: it comes back and is tried again
    );
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
