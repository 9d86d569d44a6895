// Envelopes and replies as JSON on NATS, decoded with Schema at the boundary.
import { Schema } from "effect";
import type { Envelope, Reply } from "../protocol.ts";

const Event = Schema.StructWithRest(Schema.Struct({ type: Schema.String }), [Schema.Record(Schema.String, Schema.Unknown)]);

const EnvelopeSchema = Schema.Struct({
  to: Schema.Struct({ type: Schema.String, id: Schema.String }),
  event: Event,
  messageId: Schema.String,
  replyTo: Schema.optional(Schema.String),
  deadline: Schema.Number,
  timer: Schema.optional(Schema.Struct({ key: Schema.String, dueAt: Schema.Number })),
  epoch: Schema.optional(Schema.Number),
});

const ReplySchema = Schema.Union([
  Schema.Struct({ ok: Schema.Literal(true), value: Schema.Unknown }),
  Schema.Struct({ ok: Schema.Literal(false), code: Schema.String, message: Schema.String, details: Schema.optional(Schema.Unknown) }),
]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const decodeEnvelopeJson = Schema.decodeUnknownSync(EnvelopeSchema);
const decodeReplyJson = Schema.decodeUnknownSync(ReplySchema);

export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/** An envelope on the wire also names the shard epoch the sender believes current (0: no owner known). */
export type WireEnvelope = Envelope & { readonly epoch?: number };

/** Throws a SchemaError on anything that is not an envelope. */
export const decodeEnvelope = (data: Uint8Array): WireEnvelope => decodeEnvelopeJson(JSON.parse(decoder.decode(data))) as WireEnvelope;

export const decodeReply = (data: Uint8Array): Reply => decodeReplyJson(JSON.parse(decoder.decode(data))) as Reply;

export const decodeJson = (data: Uint8Array): unknown => JSON.parse(decoder.decode(data));
