// Park customers (SPEC 3.5): a repository over Postgres with personal-data exchange; no actors.
import { customerRoutes } from "../../http/routes/customers.ts";
import { PersonalClient, startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import type { Service, ServiceContext } from "../Service.ts";
import { customersConfig } from "./config.ts";
import { CustomerBook } from "./customerBook.ts";
import { customerMetrics } from "./metrics.ts";

export interface CustomerService extends Service {
  simulators: { personal?: PersonalSimulator };
}

export async function customerService(ctx: ServiceContext): Promise<CustomerService> {
  const config = customersConfig(ctx.config.env);
  const simulators: CustomerService["simulators"] = {};
  const personalUrl = await ctx.partnerUrl(
    "PERSONAL_URL",
    config.personalUrl,
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
        customers: new CustomerBook({
          sql: deps.sql,
          logger: deps.logger,
          dispatch: (messages) => system.outbox.dispatch(messages),
          now: () => ctx.clock.now(),
          eventPrefix: ctx.eventPrefix,
          limits: config.limits,
          metrics: customerMetrics(ctx.registry),
        }),
      }),
  };
}
