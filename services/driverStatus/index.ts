// Driver statuses to KRT (SPEC 3.2): the status stream into krt-session actors reporting to KRT,
// the driver-profiles / driver-categories caches, and the driver and internal routes.
import { driverStatusRoutes } from "../../http/routes/driverStatus.ts";
import { pruneSessionHistory } from "../../storage/driverStatusRepository.ts";
import { statusStreamConfig } from "../../streams/status/config.ts";
import type { RunningStatusStream } from "../../streams/status/statusConsumer.ts";
import type { Service, ServiceContext } from "../Service.ts";
import { driverStatusConfig } from "./config.ts";
import { refusedIfBlocking } from "./canTakeOrders.ts";
import { seedDriverStatusDemo } from "./demo.ts";
import { krtSessionKind } from "./krtSessionKind.ts";
import { driverStatusMetrics } from "./metrics.ts";
import { driverStatusPartners, type DriverStatusSimulators } from "./partners.ts";
import { startStatusStream } from "./statusStream.ts";

export interface DriverStatusService extends Service {
  simulators: DriverStatusSimulators;
  /** The status stream once it runs; undefined without NATS (embedded mode without STATUS_NATS_URL). */
  statusStream(): RunningStatusStream | undefined;
  /** Syncs the driver-profiles and driver-categories caches now (tests, after changing a simulator). */
  refreshCaches(): Promise<void>;
}

export async function driverStatusService(ctx: ServiceContext): Promise<DriverStatusService> {
  const config = driverStatusConfig(ctx.config.env);
  const streamConfig = statusStreamConfig(ctx.config.env);
  const partners = await driverStatusPartners(ctx, config);
  const { simulators, krt, profiles, categories, personal } = partners;
  if (ctx.config.demoData) seedDriverStatusDemo(simulators);

  const now = () => ctx.clock.now();
  const kind = krtSessionKind({ krt, now, retry: config.krt.retry });
  const regions = new Set(streamConfig.options.regions);
  let stream: RunningStatusStream | undefined;
  const count = driverStatusMetrics(ctx.registry, {
    stream: () => stream,
    krtWaiting: () => krt.waiting,
    refusedIfBlocking: () => refusedIfBlocking({ sql: ctx.db.sql, trackstory: partners.trackstory, profilesOf: profiles.profilesOf, regions, now }),
    regions: streamConfig.options.regions,
  });

  return {
    name: "driverStatus",
    kinds: [kind],
    simulators,
    statusStream: () => stream,
    refreshCaches: async () => void (await Promise.all([profiles.cache.refreshNow(), categories.cache.refreshNow()])),
    checks: [
      { name: "driver_profiles_cache", check: () => profiles.cache.check() },
      { name: "driver_categories_cache", check: () => categories.cache.check() },
    ],
    attach: async (system, app, deps) => {
      profiles.cache.start();
      categories.cache.start();
      ctx.onStop(async () => {
        profiles.cache.stop();
        categories.cache.stop();
      });
      // Give the first fill a moment so a healthy start is ready at once; a source that is down
      // does not hold the start up (the instance runs, not ready, until its caches are filled).
      await Promise.race([Promise.all([profiles.cache.refreshNow(), categories.cache.refreshNow()]), new Promise((r) => setTimeout(r, 1_500))]);
      driverStatusRoutes(app, { ...deps, system, profiles, personal, krt, trackstory: partners.trackstory, regions, now, blocking: config.blocking });

      const prune = setInterval(() => {
        pruneSessionHistory(ctx.db.sql, new Date(now() - config.sessionHistoryDays * 86_400_000)).catch((error) =>
          ctx.logger.warn("session history prune failed", { error: String(error) }),
        );
      }, 3_600_000);
      ctx.onStop(async () => clearInterval(prune));

      // Without NATS there is no JetStream, hence no status stream; everything else works.
      const natsUrl = streamConfig.natsUrl ?? ctx.config.cluster?.natsUrl;
      if (!natsUrl) return;
      startStatusStream(ctx, { system, natsUrl, config: streamConfig, partners, count, now }, (running) => (stream = running));
    },
  };
}
