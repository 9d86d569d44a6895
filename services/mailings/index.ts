// Mailings (SPEC 3.4): mailing actors resolving audiences through parks and delivering through feeds.
import { Schema } from "effect";
import { decodeEnv, PositiveInt, Url } from "../../config.ts";
import { mailingKind } from "./mailingKind.ts";
import { mailingRoutes } from "../../http/routes/mailings.ts";
import { demoParks, ParksClient, startParksSimulator, type ParksSimulator } from "../../integrations/parks/index.ts";
import { FeedsClient, startFeedsSimulator, type FeedsSimulator } from "../../integrations/feeds/index.ts";
import type { Service, ServiceContext } from "../Service.ts";

const MailingEnv = Schema.Struct({
  PARKS_URL: Schema.optional(Url),
  FEEDS_URL: Schema.optional(Url),
  MAILING_BATCH_SIZE: Schema.optional(PositiveInt),
  MAILING_MAX_ATTEMPTS: Schema.optional(PositiveInt),
  MAILING_RETRY_BASE_MS: Schema.optional(PositiveInt),
});

export interface MailingService extends Service {
  simulators: { parks?: ParksSimulator; feeds?: FeedsSimulator };
}

export async function mailingService(ctx: ServiceContext): Promise<MailingService> {
  const env = decodeEnv(MailingEnv, ctx.config.env);
  const simulators: MailingService["simulators"] = {};
  const parksUrl = await ctx.partnerUrl(
    env.PARKS_URL,
    () => startParksSimulator({ parks: ctx.config.demoData ? demoParks() : {} }),
    (s) => (simulators.parks = s),
  );
  const feedsUrl = await ctx.partnerUrl(
    env.FEEDS_URL,
    () => startFeedsSimulator(),
    (s) => (simulators.feeds = s),
  );
  const kind = mailingKind({
    parks: new ParksClient({ baseUrl: parksUrl, ...ctx.partner }),
    feeds: new FeedsClient({ baseUrl: feedsUrl, ...ctx.partner }),
    now: () => ctx.clock.now(),
    policy: {
      batchSize: env.MAILING_BATCH_SIZE ?? 100,
      maxAttempts: env.MAILING_MAX_ATTEMPTS ?? 5,
      retryBaseMs: env.MAILING_RETRY_BASE_MS ?? 1_000,
    },
  });
  return {
    name: "mailings",
    kinds: [kind],
    simulators,
    attach: (system, app, deps) => mailingRoutes(app, { ...deps, system, now: () => ctx.clock.now() }),
  };
}
