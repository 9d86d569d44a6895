// The status stream's settings: defaults with nothing set, every STATUS_* variable read, and a bad
// value refused with a message naming its variable.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../config.ts";
import { statusStreamConfig } from "../../../streams/status/config.ts";

describe("statusStreamConfig", () => {
  it("defaults - production names and limits, the worker ingest, no NATS of its own", () => {
    const config = statusStreamConfig({});
    expect(config.natsUrl).toBeUndefined();
    expect(config.ingest).toBe("worker");
    expect(config.names).toEqual({
      stream: "CONTRACTOR_STATUSES",
      subject: "contractor.statuses.events",
      consumer: "krt-sessions",
      deadLetterStream: "CONTRACTOR_STATUSES_DEAD",
      deadLetterSubject: "contractor.statuses.dead-letter",
    });
    expect(config.limits).toEqual({ maxAckPending: 20_000, ackWaitMs: 30_000, pullBatch: 1_000, maxAgeMs: 86_400_000, maxFutureSkewMs: 300_000 });
    expect(config.options).toMatchObject({
      categories: ["econom", "comfort", "comfort_plus"],
      regions: ["moscow"],
      debounceMs: 1_000,
      maxDelayMs: 5_000,
      insideRegionTtlMs: 10_000,
      tellConcurrency: 4_096,
      coalesceMaxHeld: 10_000,
      // The worker sends statuses over already gathered: the lookups wait for nothing more.
      lookupGatherMs: 0,
    });
  });

  it("set - every variable is read; empty counts as unset; the coalescing holds half the ack limit", () => {
    const config = statusStreamConfig({
      STATUS_NATS_URL: "nats://10.0.0.1:4222",
      STATUS_STREAM: "S",
      STATUS_SUBJECT: "s.events",
      STATUS_CONSUMER: "c",
      STATUS_DEAD_LETTER_STREAM: "D",
      STATUS_DEAD_LETTER_SUBJECT: "s.dead",
      STATUS_CATEGORIES: "cargo",
      STATUS_REGIONS: "moscow",
      STATUS_DEBOUNCE_MS: "0",
      STATUS_MAX_DELAY_MS: "200",
      STATUS_REGION_TTL_MS: "0",
      STATUS_MAX_ACK_PENDING: "3",
      STATUS_ACK_WAIT_MS: "2000",
      STATUS_PULL_BATCH: "16",
      STATUS_TELL_CONCURRENCY: "8",
      STATUS_INGEST: "main",
      OTHER: "ignored",
      KRT_URL: "",
    });
    expect(config).toMatchObject({
      natsUrl: "nats://10.0.0.1:4222",
      ingest: "main",
      names: { stream: "S", subject: "s.events", consumer: "c", deadLetterStream: "D", deadLetterSubject: "s.dead" },
      limits: { maxAckPending: 3, ackWaitMs: 2_000, pullBatch: 16 },
      // Statuses decoded on this thread arrive one by one: the lookups gather them.
      options: { categories: ["cargo"], debounceMs: 0, maxDelayMs: 200, insideRegionTtlMs: 0, tellConcurrency: 8, coalesceMaxHeld: 1, lookupGatherMs: 10 },
    });
    expect(statusStreamConfig({ STATUS_INGEST: "" }).ingest).toBe("worker");
  });

  it("bad values - refused, each naming its variable", () => {
    expect(() => statusStreamConfig({ STATUS_MAX_ACK_PENDING: "0" })).toThrow(ConfigError);
    expect(() => statusStreamConfig({ STATUS_MAX_ACK_PENDING: "0" })).toThrow(/STATUS_MAX_ACK_PENDING/);
    expect(() => statusStreamConfig({ STATUS_SUBJECT: "a.*" })).toThrow(/STATUS_SUBJECT: expected a NATS subject without wildcards/);
    expect(() => statusStreamConfig({ STATUS_REGIONS: "moscow,atlantis" })).toThrow(/STATUS_REGIONS: expected regions among/);
    let message = "";
    try {
      statusStreamConfig({ STATUS_DEBOUNCE_MS: "-1", STATUS_INGEST: "both" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/STATUS_DEBOUNCE_MS/);
    expect(message).toMatch(/STATUS_INGEST/);
  });
});
