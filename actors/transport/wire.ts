// Envelopes and replies as JSON on NATS, decoded with Schema at the boundary.
import { Schema } from "effect";
import type { Envelope, Reply } from "../protocol.ts";

const Event = Schema.StructWithRest(Schema.Struct({ type: Schema.String }), [Schema.Record(Schema.String, Schema.Unknown)]);

const WireEnvelope = Schema.Struct({
  to: Schema.Struct({ type: Schema.String, id: Schema.String }),
  event: Event,
  messageId: Schema.String,
  replyTo: Schema.optional(Schema.String),
  deadline: Schema.Number,
  timer: Schema.optional(Schema.Struct({ key: Schema.String, dueAt: Schema.Number })),
});

const WireReply = Schema.Union([
  Schema.Struct({ ok: Schema.Literal(true), value: Schema.Unknown }),
  Schema.Struct({ ok: Schema.Literal(false), code: Schema.String, message: Schema.String, details: Schema.optional(Schema.Unknown) }),
]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const decodeEnvelopeJson = Schema.decodeUnknownSync(WireEnvelope);
const decodeReplyJson = Schema.decodeUnknownSync(WireReply);

export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/** Throws a SchemaError on anything that is not an envelope. */
export const decodeEnvelope = (data: Uint8Array): Envelope => decodeEnvelopeJson(JSON.parse(decoder.decode(data))) as Envelope;

export const decodeReply = (data: Uint8Array): Reply => decodeReplyJson(JSON.parse(decoder.decode(data))) as Reply;

export const decodeJson = (data: Uint8Array): unknown => JSON.parse(decoder.decode(data));
