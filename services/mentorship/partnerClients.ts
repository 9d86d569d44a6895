// Mentorship's partners: each at its URL or, when unset, a simulator started in-process (stopped
// with the instance); the CRM tables through the CRM simulator (CRM_SIMULATOR, by default when
// SIMULATORS names `crm`) or straight over Postgres, as the real CRM fills them.
import { clientEventsClient, startClientEventsSimulator, type ClientEventsSimulator } from "../../integrations/clientEvents/index.ts";
import { crmSimulator, postgresCrm, type CrmSimulator } from "../../integrations/crm/index.ts";
import { DriverProfilesClient, startDriverProfilesSimulator, type DriverProfilesSimulator } from "../../integrations/driverProfiles/index.ts";
import { fleetRentClient, startFleetRentSimulator, type FleetRentSimulator } from "../../integrations/fleetRent/index.ts";
import { PersonalClient, startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import { startTrackstorySimulator, TrackstoryClient, type TrackstorySimulator } from "../../integrations/trackstory/index.ts";
import type { ServiceContext } from "../Service.ts";
import type { MentorshipConfig } from "./config.ts";
import type { MentorshipPartners } from "./partners.ts";

/** The simulators started for partners without a URL (driver-profiles, personal and trackstory as mentorship's own). */
export interface MentorshipSimulators {
  mentorProfiles?: DriverProfilesSimulator;
  mentorPersonal?: PersonalSimulator;
  mentorTrackstory?: TrackstorySimulator;
  fleetRent?: FleetRentSimulator;
  clientEvents?: ClientEventsSimulator;
  crm?: CrmSimulator;
}

/**
 * @example const { partners, simulators } = await mentorshipPartners(ctx, config)
 */
export async function mentorshipPartners(
  ctx: ServiceContext,
  config: MentorshipConfig,
): Promise<{ partners: MentorshipPartners; simulators: MentorshipSimulators }> {
  const simulators: MentorshipSimulators = {};
  const { urls } = config;
  const url = {
    profiles: await ctx.partnerUrl(
      "DRIVER_PROFILES_URL",
      urls.driverProfiles,
      () => startDriverProfilesSimulator(),
      (s) => (simulators.mentorProfiles = s),
    ),
    personal: await ctx.partnerUrl(
      "PERSONAL_URL",
      urls.personal,
      () => startPersonalSimulator(),
      (s) => (simulators.mentorPersonal = s),
    ),
    trackstory: await ctx.partnerUrl(
      "TRACKSTORY_URL",
      urls.trackstory,
      () => startTrackstorySimulator(),
      (s) => (simulators.mentorTrackstory = s),
    ),
    fleetRent: await ctx.partnerUrl(
      "FLEET_RENT_URL",
      urls.fleetRent,
      () => startFleetRentSimulator(),
      (s) => (simulators.fleetRent = s),
    ),
    clientEvents: await ctx.partnerUrl(
      "CLIENT_EVENTS_URL",
      urls.clientEvents,
      () => startClientEventsSimulator(),
      (s) => (simulators.clientEvents = s),
    ),
  };
  if (config.crmSimulator.enabled) {
    if (ctx.config.mode === "production") ctx.logger.warn("starting the built-in CRM simulator over the CRM tables", { schema: config.crmSchema });
    const crm = crmSimulator({ sql: ctx.db.sql, schema: config.crmSchema, mentors: config.crmSimulator.mentors });
    simulators.crm = crm;
    ctx.onStop(() => crm.close());
  }
  const partners: MentorshipPartners = {
    bindings: new DriverProfilesClient({ baseUrl: url.profiles, ...ctx.partner }),
    personal: new PersonalClient({ baseUrl: url.personal, ...ctx.partner }),
    trackstory: new TrackstoryClient({ baseUrl: url.trackstory, ...ctx.partner }),
    rentals: fleetRentClient({ baseUrl: url.fleetRent, ...ctx.partner }),
    notifications: clientEventsClient({ baseUrl: url.clientEvents, ...ctx.partner }),
    crm: simulators.crm?.tables ?? postgresCrm(ctx.db.sql, config.crmSchema),
  };
  return { partners, simulators };
}
