// Park customers (SPEC 3.5): a repository over Postgres with personal-data exchange; no actors.
import { Schema } from "effect";
import { decodeEnv, PositiveInt, Url } from "../../config.ts";
import { customerRoutes } from "../../http/routes/customers.ts";
import { PersonalClient, startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import type { Service, ServiceContext } from "../Service.ts";

const CustomerEnv = Schema.Struct({
  PERSONAL_URL: Schema.optional(Url),
  CUSTOMER_MAX_LOCATIONS: Schema.optional(PositiveInt),
  CUSTOMER_MAX_ROUTES: Schema.optional(PositiveInt),
});

export interface CustomerService extends Service {
  simulators: { personal?: PersonalSimulator };
}

export async function customerService(ctx: ServiceContext): Promise<CustomerService> {
  const env = decodeEnv(CustomerEnv, ctx.config.env);
  const simulators: CustomerService["simulators"] = {};
  const personalUrl = await ctx.partnerUrl(
    env.PERSONAL_URL,
    () => startPersonalSimulator(),
    (s) => (simulators.personal = s),
  );
  const personal = new PersonalClient({ baseUrl: personalUrl, ...ctx.partner });
  return {
    name: "customers",
    kinds: [],
    simulators,
    attach: (system, app, deps) =>
      customerRoutes(app, {
        ...deps,
        personal,
        dispatch: (messages) => system.outbox.dispatch(messages),
        now: () => ctx.clock.now(),
        eventPrefix: ctx.eventPrefix,
        limits: { locations: env.CUSTOMER_MAX_LOCATIONS ?? 50, routes: env.CUSTOMER_MAX_ROUTES ?? 20 },
      }),
  };
}
