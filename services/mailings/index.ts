// Mailings (SPEC 3.4): mailing actors resolving audiences through parks and delivering through feeds.
import { mailingsConfig } from "./config.ts";
import { mailingKind } from "./mailingKind.ts";
import { mailingGauges } from "./metrics.ts";
import { mailingRoutes } from "../../http/routes/mailings.ts";
import { demoParks, ParksClient, startParksSimulator, type ParksSimulator } from "../../integrations/parks/index.ts";
import { FeedsClient, startFeedsSimulator, type FeedsSimulator } from "../../integrations/feeds/index.ts";
import type { Service, ServiceContext } from "../Service.ts";

export interface MailingService extends Service {
  simulators: { parks?: ParksSimulator; feeds?: FeedsSimulator };
}

export async function mailingService(ctx: ServiceContext): Promise<MailingService> {
  const config = mailingsConfig(ctx.config.env);
  const simulators: MailingService["simulators"] = {};
  const parksUrl = await ctx.partnerUrl(
    "PARKS_URL",
    config.parksUrl,
    () => startParksSimulator({ parks: ctx.config.demoData ? demoParks() : {} }),
    (s) => (simulators.parks = s),
  );
  const feedsUrl = await ctx.partnerUrl(
    "FEEDS_URL",
    config.feedsUrl,
    () => startFeedsSimulator(),
    (s) => (simulators.feeds = s),
  );
  const kind = mailingKind({
    parks: new ParksClient({ baseUrl: parksUrl, ...ctx.partner }),
    feeds: new FeedsClient({ baseUrl: feedsUrl, ...ctx.partner }),
    now: () => ctx.clock.now(),
    policy: config.policy,
  });
  return {
    name: "mailings",
    kinds: [kind],
    simulators,
    attach: (system, app, deps) => {
      mailingRoutes(app, { ...deps, system, now: () => ctx.clock.now() });
      mailingGauges(ctx);
    },
  };
}
