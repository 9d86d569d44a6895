// The status stream's settings: its STATUS_* variables decoded with Schema (a bad value stops the
// start with a message naming the variable), their defaults, and the pipeline's fixed tuning.
import { Schema } from "effect";
import { decodeEnv, PositiveInt, Url, type Env } from "../../config.ts";
import { regionNames } from "../../integrations/trackstory/index.ts";
import type { ConsumerLimits, StatusStreamNames } from "./statusSource.ts";
import type { StatusStreamOptions } from "./statusStream.ts";

const Ms = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0));
const Names = Schema.String.check(Schema.isPattern(/^[a-z0-9_]+(,[a-z0-9_]+)*$/, { message: "expected comma-separated names like econom,comfort" }));
const Regions = Names.check(
  Schema.makeFilter((value: string) => value.split(",").every((r) => regionNames.includes(r)) || `expected regions among ${regionNames.join(", ")}`),
);
const StreamName = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,64}$/, { message: "expected a JetStream name (letters, digits, _ and -)" }));
const Subject = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { message: "expected a NATS subject without wildcards" }));

const StatusStreamEnv = Schema.Struct({
  STATUS_NATS_URL: Schema.optional(Url),
  STATUS_STREAM: Schema.optional(StreamName),
  STATUS_SUBJECT: Schema.optional(Subject),
  STATUS_CONSUMER: Schema.optional(StreamName),
  STATUS_DEAD_LETTER_STREAM: Schema.optional(StreamName),
  STATUS_DEAD_LETTER_SUBJECT: Schema.optional(Subject),
  STATUS_CATEGORIES: Schema.optional(Names),
  STATUS_REGIONS: Schema.optional(Regions),
  STATUS_DEBOUNCE_MS: Schema.optional(Ms),
  STATUS_MAX_DELAY_MS: Schema.optional(PositiveInt),
  STATUS_REGION_TTL_MS: Schema.optional(Ms),
  STATUS_MAX_ACK_PENDING: Schema.optional(PositiveInt),
  STATUS_ACK_WAIT_MS: Schema.optional(PositiveInt),
  STATUS_PULL_BATCH: Schema.optional(PositiveInt),
  STATUS_TELL_CONCURRENCY: Schema.optional(PositiveInt),
  STATUS_INGEST: Schema.optional(Schema.Literals(["worker", "main"])),
  STATUS_MAX_FUTURE_SKEW_MS: Schema.optional(Ms),
});

export interface StatusStreamConfig {
  /** STATUS_NATS_URL; unset: the service falls back to the cluster's NATS (none: no status stream). */
  readonly natsUrl: string | undefined;
  readonly ingest: "worker" | "main";
  readonly names: StatusStreamNames;
  readonly limits: ConsumerLimits;
  /** The pipeline's options, but for those the service knows at run time. */
  readonly options: Omit<StatusStreamOptions, "dropRepeats" | "count" | "now" | "scheduler">;
}

/**
 * The status stream's settings from the environment; throws ConfigError naming every bad variable.
 * @example const { natsUrl, names, limits, options } = statusStreamConfig(process.env)
 */
export function statusStreamConfig(env: Env): StatusStreamConfig {
  const e = decodeEnv(StatusStreamEnv, env);
  const maxAckPending = e.STATUS_MAX_ACK_PENDING ?? 20_000;
  const ingest = e.STATUS_INGEST ?? "worker";
  return {
    natsUrl: e.STATUS_NATS_URL,
    ingest,
    names: {
      stream: e.STATUS_STREAM ?? "CONTRACTOR_STATUSES",
      subject: e.STATUS_SUBJECT ?? "contractor.statuses.events",
      consumer: e.STATUS_CONSUMER ?? "krt-sessions",
      deadLetterStream: e.STATUS_DEAD_LETTER_STREAM ?? "CONTRACTOR_STATUSES_DEAD",
      deadLetterSubject: e.STATUS_DEAD_LETTER_SUBJECT ?? "contractor.statuses.dead-letter",
    },
    limits: {
      maxAckPending,
      ackWaitMs: e.STATUS_ACK_WAIT_MS ?? 30_000,
      pullBatch: e.STATUS_PULL_BATCH ?? 1_000,
      maxAgeMs: 86_400_000,
      maxFutureSkewMs: e.STATUS_MAX_FUTURE_SKEW_MS ?? 300_000,
    },
    options: {
      categories: (e.STATUS_CATEGORIES ?? "econom,comfort,comfort_plus").split(","),
      regions: (e.STATUS_REGIONS ?? "moscow").split(","),
      debounceMs: e.STATUS_DEBOUNCE_MS ?? 1_000,
      maxDelayMs: e.STATUS_MAX_DELAY_MS ?? 5_000,
      // 10 ms late at most, and under load the tells (and their commits) go in batches.
      releaseResolutionMs: 10,
      // Half the ack limit may wait out windows; the other half keeps the filters and tells going.
      coalesceMaxHeld: Math.max(1, Math.floor(maxAckPending / 2)),
      // Each tell waits for its actor's commit, so tells per second = this / commit
      // latency: enough to fill the group commit's batches (4 in flight x 1,000) under load.
      tellConcurrency: e.STATUS_TELL_CONCURRENCY ?? 4_096,
      lookupConcurrency: 4,
      lookupBatchSize: 1_000,
      // On this thread statuses arrive one by one: one lookup per 10 ms slice instead of one per
      // driver. The worker sends them in batches already gathered: waiting more adds only latency.
      lookupGatherMs: ingest === "main" ? 10 : 0,
      insideRegionTtlMs: e.STATUS_REGION_TTL_MS ?? 10_000,
      retryBaseMs: 200,
      retryMaxMs: 5_000,
      memoryCapacity: 1_000_000,
      missRefreshMs: 1_000,
    },
  };
}
