// The feeds port (mailing delivery to drivers), its HTTP contract and its client.
import { Schema } from "effect";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";

/** `POST /v1/feeds/publish` request body. */
export const PublishRequest = Schema.Struct({
  idempotency_key: Schema.NonEmptyString,
  park_id: Schema.String,
  recipients: Schema.Array(Schema.String).check(Schema.isNonEmpty(), Schema.isMaxLength(1000)),
  message: Schema.NonEmptyString,
});
export type PublishRequest = typeof PublishRequest.Type;

export const PublishResponse = Schema.Struct({
  feed_id: Schema.String,
  delivered: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
});

/** One batch of a mailing. Publishing the same `idempotencyKey` again delivers nothing new. */
export interface FeedBatch {
  readonly idempotencyKey: string;
  readonly parkId: string;
  /** 1..1000 driver ids. */
  readonly recipients: readonly string[];
  readonly message: string;
}

export interface PublishResult {
  readonly feedId: string;
  /** Recipients reached by this batch; a repeat reports the first answer. */
  readonly delivered: number;
}

export interface Feeds {
  publish(batch: FeedBatch): Promise<PublishResult>;
}

/** @example await new FeedsClient({ baseUrl, timeoutMs: 2000, retries: 3 }).publish({ idempotencyKey: `${mailingId}:0`, ... }) */
export class FeedsClient implements Feeds {
  readonly #http: JsonClient;

  constructor(options: PartnerClientOptions) {
    this.#http = createJsonClient({ ...options, system: "feeds" });
  }

  async publish(batch: FeedBatch): Promise<PublishResult> {
    const body: PublishRequest = {
      idempotency_key: batch.idempotencyKey,
      park_id: batch.parkId,
      recipients: batch.recipients,
      message: batch.message,
    };
    const out = await this.#http.request("POST", "/v1/feeds/publish", body, PublishResponse);
    return { feedId: out.feed_id, delivered: out.delivered };
  }
}
