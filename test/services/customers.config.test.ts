// The customers service's environment slice: its defaults, and a bad value refused by name.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../config.ts";
import { customersConfig } from "../../services/customers/config.ts";

describe("customers config", () => {
  it("defaults - a simulated personal, 50 locations and 20 routes per customer", () => {
    expect(customersConfig({})).toEqual({ personalUrl: undefined, limits: { locations: 50, routes: 20 } });
  });

  it("set - decoded; empty counts as unset; other services' variables are not read", () => {
    const config = customersConfig({ PERSONAL_URL: "https://personal.local", CUSTOMER_MAX_LOCATIONS: "3", CUSTOMER_MAX_ROUTES: "", MAILING_BATCH_SIZE: "x" });
    expect(config).toEqual({ personalUrl: "https://personal.local", limits: { locations: 3, routes: 20 } });
  });

  it.each([
    ["CUSTOMER_MAX_LOCATIONS", "-1"],
    ["CUSTOMER_MAX_ROUTES", "many"],
    ["PERSONAL_URL", "not a url"],
  ])("a bad %s (%s) is refused naming the variable", (name, value) => {
    expect(() => customersConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => customersConfig({ [name]: value })).toThrow(`${name}: `);
  });

  it("several bad values - each one named", () => {
    expect(() => customersConfig({ CUSTOMER_MAX_LOCATIONS: "0", CUSTOMER_MAX_ROUTES: "1.5" })).toThrow(/CUSTOMER_MAX_LOCATIONS: .*\n.*CUSTOMER_MAX_ROUTES: /);
  });
});
