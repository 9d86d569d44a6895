// Cluster mode: envelopes travel as NATS requests on `<cluster>.actors.<shard>.<type>.<id>`;
// an envelope for a shard this instance owns stays in-process. Every instance serving a shard
// subscribes to it (no queue group): a paused former owner keeps its subscription on the server
// until NATS notices, so the envelope names the epoch its sender knows and only the holder of
// that epoch handles it. A newer owner answers "unavailable" (the sender's view is behind and the
// older holder is fenced); an older one stays silent, so it can never beat the real answer.
// A shard handed over keeps its subscription for a grace period and answers "moved" (at once to
// envelopes sent to the epoch it held; to others only if the new owner has not answered within
// half a second): unsubscribing at once would drop the envelopes already on their way, and their
// senders would wait out their whole timeout instead of retrying with the new owner.
import { RequestError, TimeoutError, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Envelope, Reply } from "../protocol.ts";
import { formatAddress } from "../protocol.ts";
import { AskTimeoutError, UnavailableError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { shardOf } from "../cluster/sharding.ts";
import type { EnvelopeHandler, Transport } from "./Transport.ts";
import { decodeEnvelope, decodeJson, decodeReply, encodeJson, type WireEnvelope } from "./wire.ts";

export interface NatsTransportOptions {
  /** Subject namespace, `fleet` in production: `fleet.actors.…`. */
  prefix: string;
  shardCount: number;
  logger: Logger;
  /** Envelopes for a shard this instance owns go straight to its host, without leaving the process. */
  owns: (shard: number) => boolean;
  /** This instance's epoch of an owned shard (0 when not owned). */
  epochOf: (shard: number) => number;
  /** The epoch of the shard's current owner as this instance last saw it (0: none known). */
  ownerEpochOf: (shard: number) => number;
  onForwarded?: (ms: number, ok: boolean) => void;
}

/** How long a handed-over shard still answers "moved": senders see the new owner well within it. */
const HANDOVER_GRACE_MS = 2_000;
/** How long a handed-over shard leaves an envelope for its new owner to answer before saying "moved". */
const HANDOVER_FALLBACK_MS = 500;

/** Subject tokens cannot hold dots, spaces or wildcards; the envelope carries the real id. */
const token = (text: string) => text.replace(/[.\s*>]/g, "_") || "_";

export class NatsTransport implements Transport {
  #handler: EnvelopeHandler | undefined;
  readonly #shards = new Map<number, Subscription>();
  /** Shards handed over and still in their grace period: the epoch held, and the end of the grace. */
  readonly #handedOver = new Map<number, { epoch: number; timer: NodeJS.Timeout; ended: Promise<void> }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsTransportOptions,
  ) {}

  subjectOf(envelope: Envelope): string {
    const shard = shardOf(envelope.to, this.options.shardCount);
    return `${this.options.prefix}.actors.${shard}.${token(envelope.to.type)}.${token(envelope.to.id)}`;
  }

  async send(envelope: Envelope): Promise<Reply> {
    const shard = shardOf(envelope.to, this.options.shardCount);
    if (this.options.owns(shard) && this.#handler) return this.#handler(envelope);
    const started = performance.now();
    const timeout = Math.max(1, envelope.deadline - Date.now());
    const wire: WireEnvelope = { ...envelope, epoch: this.options.ownerEpochOf(shard) };
    try {
      const msg = await this.nc.request(this.subjectOf(envelope), encodeJson(wire), { timeout });
      this.options.onForwarded?.(performance.now() - started, true);
      return decodeReply(msg.data);
    } catch (error) {
      this.options.onForwarded?.(performance.now() - started, false);
      if (error instanceof RequestError && error.isNoResponders()) {
        throw new UnavailableError(`no instance serves the shard of ${formatAddress(envelope.to)} yet`, error);
      }
      if (error instanceof TimeoutError || (error instanceof RequestError && error.cause instanceof TimeoutError)) {
        throw new AskTimeoutError(formatAddress(envelope.to), timeout);
      }
      throw new UnavailableError(`cannot reach ${formatAddress(envelope.to)}: ${String(error)}`, error);
    }
  }

  serve(handler: EnvelopeHandler): void {
    this.#handler = handler;
  }

  /** Starts answering for a shard this instance now owns. */
  serveShard(shard: number): void {
    const handedOver = this.#handedOver.get(shard);
    if (handedOver) {
      clearTimeout(handedOver.timer);
      this.#handedOver.delete(shard);
    }
    if (this.#shards.has(shard)) return;
    const subject = `${this.options.prefix}.actors.${shard}.>`;
    const sub = this.nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return this.options.logger.warn("shard subscription error", { shard, error: String(error) });
        let envelope: WireEnvelope;
        try {
          envelope = decodeEnvelope(msg.data);
        } catch (decodeError) {
          this.options.logger.warn("malformed envelope dropped", { subject: msg.subject, error: String(decodeError) });
          msg.respond(encodeJson({ ok: false, code: "bad_envelope", message: "malformed envelope" } satisfies Reply));
          return;
        }
        const mine = this.options.epochOf(shard);
        const theirs = envelope.epoch ?? 0;
        const handedOver = mine === 0 ? this.#handedOver.get(shard) : undefined;
        if (handedOver) {
          // Sent to us: "moved" at once. Sent to the new owner: it answers, unless it is not
          // serving yet; then this late "moved" (ignored once an answer came) saves the wait.
          const moved = () => msg.respond(encodeJson({ ok: false, code: "actor_unavailable", message: `shard ${shard} was handed over` } satisfies Reply));
          if (theirs <= handedOver.epoch) moved();
          else setTimeout(moved, HANDOVER_FALLBACK_MS);
          return;
        }
        if (mine === 0 || mine < theirs) return; // not ours, or a newer owner answers
        const { epoch: _, ...plain } = envelope;
        const reply: Promise<Reply> =
          mine === theirs && this.#handler
            ? this.#handler(plain)
            : Promise.resolve({ ok: false, code: "actor_unavailable", message: `shard ${shard} moved to a newer owner` });
        reply.then(
          (r) => msg.respond(encodeJson(r)),
          (e) => msg.respond(encodeJson({ ok: false, code: "actor_unavailable", message: String(e) } satisfies Reply)),
        );
      },
    });
    this.#shards.set(shard, sub);
  }

  /** Stops answering for a shard taken over by another instance; in-flight turns still reply. */
  stopShard(shard: number): void {
    this.#shards.get(shard)?.unsubscribe();
    this.#shards.delete(shard);
  }

  /** Stops serving a shard handed over at `epoch`: "moved" answers for the grace period, then silence. */
  handOverShard(shard: number, epoch: number): void {
    if (!this.#shards.has(shard) || this.#handedOver.has(shard)) return;
    let end = () => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    const timer = setTimeout(() => {
      if (this.#handedOver.get(shard)?.timer !== timer) return;
      this.#handedOver.delete(shard);
      this.stopShard(shard);
      end();
    }, HANDOVER_GRACE_MS);
    this.#handedOver.set(shard, { epoch, timer, ended });
  }

  /** Resolves once the server has the message (flush), so the outbox row may then go. */
  async publish(subject: string, payload: unknown): Promise<void> {
    this.nc.publish(subject, encodeJson(payload));
    await this.nc.flush();
  }

  subscribe(pattern: string, handler: (subject: string, payload: unknown) => void): () => void {
    const sub = this.nc.subscribe(pattern, {
      callback: (error, msg) => {
        if (!error) handler(msg.subject, decodeJson(msg.data));
      },
    });
    return () => sub.unsubscribe();
  }

  async close(): Promise<void> {
    // Leaving: the shards were handed over just now; answer "moved" until their graces end.
    await Promise.all([...this.#handedOver.values()].map((h) => h.ended));
    for (const shard of [...this.#shards.keys()]) this.stopShard(shard);
    this.#handler = undefined;
  }
}
