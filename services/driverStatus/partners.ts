// The driver-status service's partners: KRT, driver-profiles, driver-categories, trackstory and
// personal, each at its URL or, when unset, a simulator started in-process; their clients and the
// driver-profiles / driver-categories caches.
import { KrtClient, startKrtSimulator, type KrtSimulator } from "../../integrations/krt/index.ts";
import { PersonalClient, startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import {
  DriverProfilesClient,
  driverProfilesCache,
  startDriverProfilesSimulator,
  type DriverProfilesCache,
  type DriverProfilesSimulator,
} from "../../integrations/driverProfiles/index.ts";
import {
  DriverCategoriesClient,
  driverCategoriesCache,
  startDriverCategoriesSimulator,
  type DriverCategoriesCache,
  type DriverCategoriesSimulator,
} from "../../integrations/driverCategories/index.ts";
import { startTrackstorySimulator, TrackstoryClient, type TrackstorySimulator } from "../../integrations/trackstory/index.ts";
import type { ServiceContext } from "../Service.ts";
import type { DriverStatusConfig } from "./config.ts";
import { postgresTokenStore } from "./krtTokenStore.ts";

/** The simulators started for partners without a URL. */
export interface DriverStatusSimulators {
  krt?: KrtSimulator;
  driverProfiles?: DriverProfilesSimulator;
  driverCategories?: DriverCategoriesSimulator;
  trackstory?: TrackstorySimulator;
  /** personal as this service uses it (driver licences); customers start their own when PERSONAL_URL is unset. */
  driverPersonal?: PersonalSimulator;
}

export interface DriverStatusPartners {
  readonly simulators: DriverStatusSimulators;
  readonly krt: KrtClient;
  readonly profiles: DriverProfilesCache;
  readonly categories: DriverCategoriesCache;
  readonly trackstory: TrackstoryClient;
  readonly personal: PersonalClient;
}

/** Each partner's URL, a simulator started (and stopped with the instance) where there is none. */
async function partnerUrls(ctx: ServiceContext, config: DriverStatusConfig, simulators: DriverStatusSimulators) {
  const { urls, krt } = config;
  return {
    krt: await ctx.partnerUrl(
      "KRT_URL",
      urls.krt,
      () => startKrtSimulator({ clientId: krt.clientId, clientSecret: krt.clientSecret }),
      (s) => (simulators.krt = s),
    ),
    driverProfiles: await ctx.partnerUrl(
      "DRIVER_PROFILES_URL",
      urls.driverProfiles,
      () => startDriverProfilesSimulator(),
      (s) => (simulators.driverProfiles = s),
    ),
    driverCategories: await ctx.partnerUrl(
      "DRIVER_CATEGORIES_URL",
      urls.driverCategories,
      () => startDriverCategoriesSimulator(),
      (s) => (simulators.driverCategories = s),
    ),
    trackstory: await ctx.partnerUrl(
      "TRACKSTORY_URL",
      urls.trackstory,
      () => startTrackstorySimulator(),
      (s) => (simulators.trackstory = s),
    ),
    personal: await ctx.partnerUrl(
      "PERSONAL_URL",
      urls.personal,
      () => startPersonalSimulator(),
      (s) => (simulators.driverPersonal = s),
    ),
  };
}

/**
 * The partners' clients (the caches not started yet: the service starts them when it attaches).
 * @example const { krt, profiles, categories, trackstory, personal, simulators } = await driverStatusPartners(ctx, config)
 */
export async function driverStatusPartners(ctx: ServiceContext, config: DriverStatusConfig): Promise<DriverStatusPartners> {
  const simulators: DriverStatusSimulators = {};
  const urls = await partnerUrls(ctx, config, simulators);
  const now = () => ctx.clock.now();
  const cacheOptions = { refreshMs: config.cacheRefreshMs, logger: ctx.logger, now };
  return {
    simulators,
    krt: new KrtClient({
      baseUrl: urls.krt,
      ...ctx.partner,
      clientId: config.krt.clientId,
      clientSecret: config.krt.clientSecret,
      tokens: postgresTokenStore(ctx.db.sql),
      ratePerSecond: config.krt.ratePerSecond,
      rateQueue: config.krt.rateQueue,
      refreshMarginMs: config.krt.refreshMarginMs,
      now,
    }),
    profiles: driverProfilesCache(new DriverProfilesClient({ baseUrl: urls.driverProfiles, ...ctx.partner }), cacheOptions),
    categories: driverCategoriesCache(new DriverCategoriesClient({ baseUrl: urls.driverCategories, ...ctx.partner }), cacheOptions),
    trackstory: new TrackstoryClient({ baseUrl: urls.trackstory, ...ctx.partner }),
    personal: new PersonalClient({ baseUrl: urls.personal, ...ctx.partner }),
  };
}
