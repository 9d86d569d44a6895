// The mailings service's slice of the environment, decoded with Schema at start-up; a bad value
// stops the process with a message naming the variable.
import { Schema } from "effect";
import { decodeEnv, PositiveInt, Url, type Env } from "../../config.ts";
import type { MailingPolicy } from "./mailingKind.ts";

const MailingEnv = Schema.Struct({
  /** Unset: a parks simulator is started. */
  PARKS_URL: Schema.optional(Url),
  /** Unset: a feeds simulator is started. */
  FEEDS_URL: Schema.optional(Url),
  MAILING_BATCH_SIZE: Schema.optional(PositiveInt),
  MAILING_MAX_ATTEMPTS: Schema.optional(PositiveInt),
  MAILING_RETRY_BASE_MS: Schema.optional(PositiveInt),
});

export interface MailingsConfig {
  parksUrl: string | undefined;
  feedsUrl: string | undefined;
  policy: MailingPolicy;
}

/**
 * Decodes the mailings variables; throws ConfigError naming every bad one.
 * @example const { policy } = mailingsConfig(process.env)
 */
export function mailingsConfig(env: Env): MailingsConfig {
  const e = decodeEnv(MailingEnv, env);
  return {
    parksUrl: e.PARKS_URL,
    feedsUrl: e.FEEDS_URL,
    policy: {
      batchSize: e.MAILING_BATCH_SIZE ?? 100,
      maxAttempts: e.MAILING_MAX_ATTEMPTS ?? 5,
      retryBaseMs: e.MAILING_RETRY_BASE_MS ?? 1_000,
    },
  };
}
