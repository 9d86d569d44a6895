// The cabinets service's env slice: defaults when unset (or empty), values decoded, and a bad value
// refused with a message naming the variable; the broker's TLS files read and checked at start.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, type Env } from "../../config.ts";
import { cabinetsConfig } from "../../services/cabinets/config.ts";
import { makeCertificates, type TestCertificates } from "../support/certificates.ts";

/** The ConfigError's message of a config that must be refused. */
function refusal(env: Env): string {
  try {
    cabinetsConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("the configuration was accepted");
}

describe("cabinetsConfig", () => {
  it("defaults - every variable unset or empty", () => {
    const defaults = {
      mqttUrl: undefined,
      mqttAuth: {},
      topicPrefix: "",
      pollMs: 10_000,
      pollJitter: 0.1,
      pollConcurrency: 200,
      missedPolls: 3,
      commandTimeoutMs: 5_000,
      reportHeartbeatMs: 600_000,
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
      mqttAuth: {},
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

  it("refuses - a bad value names its variable, never its value; every bad one is listed", () => {
    const attempt = () => cabinetsConfig({ CABINET_POLL_MS: "0", MQTT_TOPIC_PREFIX: "a/#", CHARGED_MIN_CHARGE: "101", MQTT_URL: "localhost" });
    expect(attempt).toThrow(ConfigError);
    const message = (() => {
      try {
        attempt();
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/CABINET_POLL_MS: .*greater than 0/);
    expect(message).toMatch(/MQTT_TOPIC_PREFIX: expected a topic prefix without wildcards or spaces/);
    expect(message).toMatch(/CHARGED_MIN_CHARGE: .*between 0 and 100/);
    expect(message).toMatch(/MQTT_URL: expected a URL/);
    expect(message).not.toContain("localhost"); // values are never echoed: some are secrets
  });
});

describe("cabinetsConfig: the broker's TLS and login", () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeCertificates();
  });
  afterAll(() => certs?.close());
  const tls = () => ({ MQTT_URL: "mqtts://iot.example:8883", MQTT_CA_FILE: certs.ca, MQTT_CERT_FILE: certs.clientCert, MQTT_KEY_FILE: certs.clientKey });

  it("decodes - the CA, the client certificate and its key read from their files; a username with its password", () => {
    expect(cabinetsConfig(tls()).mqttAuth).toEqual({ ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
    const login = cabinetsConfig({ MQTT_URL: "mqtts://iot.example:8883", MQTT_CA_FILE: certs.ca, MQTT_USERNAME: "registry-1", MQTT_PASSWORD: "p@ss, word" });
    expect(login.mqttAuth).toEqual({ ca: readFileSync(certs.ca), username: "registry-1", password: "p@ss, word" });
    // A login alone is fine on a plain broker (a local Mosquitto with a password file).
    expect(cabinetsConfig({ MQTT_URL: "mqtt://127.0.0.1:1883", MQTT_USERNAME: "u", MQTT_PASSWORD: "p" }).mqttAuth).toEqual({ username: "u", password: "p" });
  });

  it("refuses - a missing or unreadable file names its variable and why", () => {
    const missing = path.join(certs.dir, "nope.pem");
    const message = refusal({ ...tls(), MQTT_CA_FILE: missing, MQTT_KEY_FILE: certs.dir });
    expect(message).toContain("MQTT_CA_FILE: cannot read the file (ENOENT)");
    expect(message).toContain("MQTT_KEY_FILE: expected a file");
  });

  it("refuses - what only works together: a certificate and its key, a username and its password, TLS files and an mqtts:// MQTT_URL", () => {
    expect(refusal({ ...tls(), MQTT_KEY_FILE: "" })).toContain("MQTT_KEY_FILE: required with MQTT_CERT_FILE");
    expect(refusal({ ...tls(), MQTT_CERT_FILE: undefined })).toContain("MQTT_CERT_FILE: required with MQTT_KEY_FILE");
    expect(refusal({ ...tls(), MQTT_URL: "mqtt://iot.example:1883" })).toContain(
      "MQTT_URL: expected an mqtts:// URL with MQTT_CA_FILE, MQTT_CERT_FILE, MQTT_KEY_FILE",
    );
    expect(refusal({ ...tls(), MQTT_URL: undefined })).toContain("MQTT_URL: required with MQTT_CA_FILE, MQTT_CERT_FILE, MQTT_KEY_FILE");
    const lonePassword = refusal({ MQTT_URL: "mqtts://iot.example:8883", MQTT_PASSWORD: "s3cret-value" });
    expect(lonePassword).toContain("MQTT_USERNAME: required with MQTT_PASSWORD");
    expect(lonePassword).not.toContain("s3cret-value");
    expect(refusal({ MQTT_URL: "mqtts://iot.example:8883", MQTT_USERNAME: "u" })).toContain("MQTT_PASSWORD: required with MQTT_USERNAME");
  });

  it("refuses - a CA that is not a PEM certificate, a key that is not the certificate's, without printing the key", () => {
    const garbage = path.join(certs.dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate");
    expect(refusal({ ...tls(), MQTT_CA_FILE: garbage })).toMatch(/MQTT_CA_FILE: expected a PEM certificate \(/);
    const mismatch = refusal({ ...tls(), MQTT_KEY_FILE: certs.serverKey });
    expect(mismatch).toMatch(/MQTT_CERT_FILE, MQTT_KEY_FILE: expected a PEM certificate and its private key \(.*key values mismatch/);
    expect(mismatch).not.toContain(readFileSync(certs.serverKey, "utf8").split("\n")[1]);
  });
});
