// The cabinets service's env slice: defaults when unset (or empty), values decoded, and a bad value
// refused with a message naming the variable.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../config.ts";
import { cabinetsConfig } from "../../services/cabinets/config.ts";

describe("cabinetsConfig", () => {
  it("defaults - every variable unset or empty", () => {
    const defaults = {
      mqttUrl: undefined,
      topicPrefix: "",
      pollMs: 10_000,
      pollJitter: 0.1,
      pollConcurrency: 200,
      missedPolls: 3,
      commandTimeoutMs: 5_000,
      reportHeartbeatMs: 60_000,
      bookingTtlMs: 900_000,
      chargedMinCharge: 80,
    };
    expect(cabinetsConfig({})).toEqual(defaults);
    expect(cabinetsConfig({ CABINET_POLL_MS: "", MQTT_URL: "" })).toEqual(defaults);
  });

  it("decodes - numbers from strings, other variables ignored", () => {
    const config = cabinetsConfig({
      MQTT_URL: "mqtt://127.0.0.1:1883",
      MQTT_TOPIC_PREFIX: "fleet/",
      CABINET_POLL_MS: "150",
      CABINET_POLL_JITTER: "0",
      CABINET_POLL_CONCURRENCY: "8",
      CABINET_MISSED_POLLS: "2",
      CABINET_COMMAND_TIMEOUT_MS: "400",
      CABINET_REPORT_HEARTBEAT_MS: "0",
      BOOKING_TTL_MS: "1500",
      CHARGED_MIN_CHARGE: "55.5",
      PORT: "not a cabinet variable",
    });
    expect(config).toEqual({
      mqttUrl: "mqtt://127.0.0.1:1883",
      topicPrefix: "fleet/",
      pollMs: 150,
      pollJitter: 0,
      pollConcurrency: 8,
      missedPolls: 2,
      commandTimeoutMs: 400,
      reportHeartbeatMs: 0,
      bookingTtlMs: 1500,
      chargedMinCharge: 55.5,
    });
  });

  it("refuses - a bad value names its variable and what was given; every bad one is listed", () => {
    const attempt = () => cabinetsConfig({ CABINET_POLL_MS: "0", MQTT_TOPIC_PREFIX: "a/#", CHARGED_MIN_CHARGE: "101", MQTT_URL: "localhost" });
    expect(attempt).toThrow(ConfigError);
    const message = (() => {
      try {
        attempt();
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/CABINET_POLL_MS: .*\(got "0"\)/);
    expect(message).toMatch(/MQTT_TOPIC_PREFIX: expected a topic prefix without wildcards or spaces \(got "a\/#"\)/);
    expect(message).toMatch(/CHARGED_MIN_CHARGE: .*\(got "101"\)/);
    expect(message).toMatch(/MQTT_URL: expected a URL \(got "localhost"\)/);
  });
});
