// The customers service's slice of the environment, decoded with Schema at start-up; a bad value
// stops the process with a message naming the variable.
import { Schema } from "effect";
import { decodeEnv, PositiveInt, Url, type Env } from "../../config.ts";
import { defaultCustomerLimits, type CustomerLimits } from "./customerBook.ts";

const CustomerEnv = Schema.Struct({
  /** Unset: a personal simulator is started. */
  PERSONAL_URL: Schema.optional(Url),
  CUSTOMER_MAX_LOCATIONS: Schema.optional(PositiveInt),
  CUSTOMER_MAX_ROUTES: Schema.optional(PositiveInt),
});

export interface CustomersConfig {
  personalUrl: string | undefined;
  /** Per customer; adding past them is 409. */
  limits: CustomerLimits;
}

/**
 * Decodes the customers variables; throws ConfigError naming every bad one.
 * @example const { limits } = customersConfig(process.env)
 */
export function customersConfig(env: Env): CustomersConfig {
  const e = decodeEnv(CustomerEnv, env);
  return {
    personalUrl: e.PERSONAL_URL,
    limits: {
      locations: e.CUSTOMER_MAX_LOCATIONS ?? defaultCustomerLimits.locations,
      routes: e.CUSTOMER_MAX_ROUTES ?? defaultCustomerLimits.routes,
    },
  };
}
