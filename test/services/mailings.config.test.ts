// The mailings service's environment slice: its defaults, and a bad value refused by name.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../config.ts";
import { mailingsConfig } from "../../services/mailings/config.ts";

describe("mailings config", () => {
  it("defaults - simulated partners, batches of 100, 5 attempts, retries from 1 s", () => {
    expect(mailingsConfig({})).toEqual({ parksUrl: undefined, feedsUrl: undefined, policy: { batchSize: 100, maxAttempts: 5, retryBaseMs: 1_000 } });
  });

  it("set - decoded; empty counts as unset; other services' variables are not read", () => {
    const config = mailingsConfig({
      PARKS_URL: "http://parks.local:8080",
      FEEDS_URL: "",
      MAILING_BATCH_SIZE: "250",
      MAILING_MAX_ATTEMPTS: "3",
      MAILING_RETRY_BASE_MS: "50",
      CUSTOMER_MAX_ROUTES: "not read here",
    });
    expect(config).toEqual({ parksUrl: "http://parks.local:8080", feedsUrl: undefined, policy: { batchSize: 250, maxAttempts: 3, retryBaseMs: 50 } });
  });

  it.each([
    ["MAILING_BATCH_SIZE", "0"],
    ["MAILING_MAX_ATTEMPTS", "three"],
    ["MAILING_RETRY_BASE_MS", "1.5"],
    ["PARKS_URL", "parks.local"],
  ])("a bad %s (%s) is refused naming the variable", (name, value) => {
    expect(() => mailingsConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => mailingsConfig({ [name]: value })).toThrow(new RegExp(`${name}: `));
    expect(() => mailingsConfig({ [name]: value })).not.toThrow(/\(got /); // values are never echoed: some are secrets
  });
});
