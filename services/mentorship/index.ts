// Mentorship (SPEC 3.3): matching actors through the programme, the CRM exchange (application,
// matching and promocode imports as cluster singletons, progress on each matching's timers),
// retention to the archive, and the driver routes.
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { mentorshipRoutes } from "../../http/routes/mentorship.ts";
import type { Service, ServiceContext } from "../Service.ts";
import { apply } from "./application.ts";
import { mentorshipConfig } from "./config.ts";
import { seedMentorshipDemo } from "./demo.ts";
import { importMatches, importPromocodes, sweepRetention } from "./jobs.ts";
import { mentorshipJobsKind } from "./jobsKind.ts";
import { matchingKind } from "./matchingKind.ts";
import { mentorshipGauges } from "./metrics.ts";
import { mentorshipPartners, type MentorshipSimulators } from "./partnerClients.ts";
import type { MentorshipPartners } from "./partners.ts";

export interface MentorshipService extends Service {
  simulators: MentorshipSimulators;
  /** The partner clients as the service uses them (the CRM tables among them). */
  partners: MentorshipPartners;
}

export async function mentorshipService(ctx: ServiceContext): Promise<MentorshipService> {
  const { simulators: allowed } = ctx.config;
  const config = mentorshipConfig(ctx.config.env, { demoData: ctx.config.demoData, simulateCrm: allowed.all || allowed.names.has("crm") });
  const { partners, simulators } = await mentorshipPartners(ctx, config);
  const now = () => ctx.clock.now();
  if (ctx.config.demoData) seedMentorshipDemo(simulators);

  const matchings = matchingKind({
    effects: {
      apply: (input, signal) => apply(partners, input, now, signal),
      notify: (input, signal) => partners.notifications.pushBulk(input.key, input.notifications, signal),
      readProgress: async (matchingId, day) => (await partners.crm.readResults([matchingId], day)).find((r) => r.matching_id === matchingId)?.result ?? null,
    },
    now,
    policy: config.policy,
  });
  // The jobs tell matchings through the actor system, which exists only once every kind is
  // declared; a singleton woken before that waits for it.
  let attached: (system: ActorSystem) => void = () => {};
  const systemReady = new Promise<ActorSystem>((resolve) => (attached = resolve));
  const jobs = mentorshipJobsKind({
    now,
    jobs: {
      "match-import": { everyMs: config.every.matchImport, run: async () => importMatches({ crm: partners.crm, system: await systemReady }) },
      "promocode-import": {
        everyMs: config.every.promocodeImport,
        run: async () => importPromocodes({ crm: partners.crm, system: await systemReady, sql: ctx.db.sql }),
      },
      retention: { everyMs: config.every.retention, run: () => sweepRetention({ sql: ctx.db.sql, now, policy: config.retention }) },
    },
  });

  return {
    name: "mentorship",
    kinds: [matchings, jobs],
    simulators,
    partners,
    attach: (system, app, deps) => {
      attached(system);
      mentorshipRoutes(app, { ...deps, system, sql: ctx.db.sql, partners, now });
      mentorshipGauges(ctx);
      simulators.crm?.start(config.crmSimulator.tickMs, now);
    },
  };
}
