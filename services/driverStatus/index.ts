// Driver statuses to KRT (SPEC 3.2): the status stream into krt-session actors reporting to KRT,
// the driver-profiles / driver-categories caches, and the driver and internal routes.
import { Schema } from "effect";
import { Counter, Gauge } from "prom-client";
import { decodeEnv, PositiveInt, Url } from "../../config.ts";
import { krtSessionKind } from "./krtSessionKind.ts";
import { driverStatusRoutes } from "../../http/routes/driverStatus.ts";
import { KrtClient, startKrtSimulator, type KrtSimulator } from "../../integrations/krt/index.ts";
import { PersonalClient, startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import {
  DriverProfilesClient,
  driverProfilesCache,
  startDriverProfilesSimulator,
  type DriverProfilesSimulator,
} from "../../integrations/driverProfiles/index.ts";
import {
  DriverCategoriesClient,
  driverCategoriesCache,
  startDriverCategoriesSimulator,
  type DriverCategoriesSimulator,
} from "../../integrations/driverCategories/index.ts";
import { regionNames, startTrackstorySimulator, TrackstoryClient, type TrackstorySimulator } from "../../integrations/trackstory/index.ts";
import { postgresTokenStore, pruneSessionHistory } from "../../storage/driverStatusRepository.ts";
import { runStatusStream, type RunningStatusStream } from "../../streams/status/statusConsumer.ts";
import type { StatusOutcome } from "../../streams/status/statusMessages.ts";
import { seedDriverStatusDemo } from "./demo.ts";
import type { Service, ServiceContext } from "../Service.ts";

const Ms = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0));
const Names = Schema.String.check(Schema.isPattern(/^[a-z0-9_]+(,[a-z0-9_]+)*$/, { message: "expected comma-separated names like econom,comfort" }));
const Regions = Names.check(
  Schema.makeFilter((value: string) => value.split(",").every((r) => regionNames.includes(r)) || `expected regions among ${regionNames.join(", ")}`),
);
const StreamName = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,64}$/, { message: "expected a JetStream name (letters, digits, _ and -)" }));
const Subject = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { message: "expected a NATS subject without wildcards" }));

const DriverStatusEnv = Schema.Struct({
  KRT_URL: Schema.optional(Url),
  KRT_CLIENT_ID: Schema.optional(Schema.NonEmptyString),
  KRT_CLIENT_SECRET: Schema.optional(Schema.NonEmptyString),
  KRT_RATE_LIMIT_PER_S: Schema.optional(PositiveInt),
  KRT_TOKEN_REFRESH_MARGIN_MS: Schema.optional(Ms),
  KRT_RETRY_BASE_MS: Schema.optional(PositiveInt),
  KRT_RETRY_MAX_MS: Schema.optional(PositiveInt),
  DRIVER_PROFILES_URL: Schema.optional(Url),
  DRIVER_CATEGORIES_URL: Schema.optional(Url),
  TRACKSTORY_URL: Schema.optional(Url),
  PERSONAL_URL: Schema.optional(Url),
  DRIVER_CACHE_REFRESH_MS: Schema.optional(PositiveInt),
  STATUS_NATS_URL: Schema.optional(Url),
  STATUS_STREAM: Schema.optional(StreamName),
  STATUS_SUBJECT: Schema.optional(Subject),
  STATUS_CONSUMER: Schema.optional(StreamName),
  STATUS_DEAD_LETTER_STREAM: Schema.optional(StreamName),
  STATUS_DEAD_LETTER_SUBJECT: Schema.optional(Subject),
  STATUS_CATEGORIES: Schema.optional(Names),
  STATUS_REGIONS: Schema.optional(Regions),
  STATUS_DEBOUNCE_MS: Schema.optional(Ms),
  STATUS_MAX_DELAY_MS: Schema.optional(PositiveInt),
  STATUS_REGION_TTL_MS: Schema.optional(Ms),
  STATUS_MAX_ACK_PENDING: Schema.optional(PositiveInt),
  STATUS_ACK_WAIT_MS: Schema.optional(PositiveInt),
  STATUS_PULL_BATCH: Schema.optional(PositiveInt),
  STATUS_TELL_CONCURRENCY: Schema.optional(PositiveInt),
  STATUS_INGEST: Schema.optional(Schema.Literals(["worker", "main"])),
  SESSION_HISTORY_DAYS: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 30 }))),
  CAN_TAKE_ORDERS_BLOCKING: Schema.optional(Schema.Literals(["true", "false"])),
});

export interface DriverStatusService extends Service {
  simulators: {
    krt?: KrtSimulator;
    driverProfiles?: DriverProfilesSimulator;
    driverCategories?: DriverCategoriesSimulator;
    trackstory?: TrackstorySimulator;
    /** personal as this service uses it (driver licences); customers start their own when PERSONAL_URL is unset. */
    driverPersonal?: PersonalSimulator;
  };
  /** The status stream once it runs; undefined without NATS (embedded mode without STATUS_NATS_URL). */
  statusStream(): RunningStatusStream | undefined;
  /** Syncs the driver-profiles and driver-categories caches now (tests, after changing a simulator). */
  refreshCaches(): Promise<void>;
}

export async function driverStatusService(ctx: ServiceContext): Promise<DriverStatusService> {
  const env = decodeEnv(DriverStatusEnv, ctx.config.env);
  const simulators: DriverStatusService["simulators"] = {};
  const clientId = env.KRT_CLIENT_ID ?? "fleet";
  const clientSecret = env.KRT_CLIENT_SECRET ?? "fleet-secret";
  const krtUrl = await ctx.partnerUrl(
    env.KRT_URL,
    () => startKrtSimulator({ clientId, clientSecret }),
    (s) => (simulators.krt = s),
  );
  const profilesUrl = await ctx.partnerUrl(
    env.DRIVER_PROFILES_URL,
    () => startDriverProfilesSimulator(),
    (s) => (simulators.driverProfiles = s),
  );
  const categoriesUrl = await ctx.partnerUrl(
    env.DRIVER_CATEGORIES_URL,
    () => startDriverCategoriesSimulator(),
    (s) => (simulators.driverCategories = s),
  );
  const trackstoryUrl = await ctx.partnerUrl(
    env.TRACKSTORY_URL,
    () => startTrackstorySimulator(),
    (s) => (simulators.trackstory = s),
  );
  const personalUrl = await ctx.partnerUrl(
    env.PERSONAL_URL,
    () => startPersonalSimulator(),
    (s) => (simulators.driverPersonal = s),
  );
  if (ctx.config.demoData) seedDriverStatusDemo(simulators);

  const now = () => ctx.clock.now();
  const krt = new KrtClient({
    baseUrl: krtUrl,
    ...ctx.partner,
    clientId,
    clientSecret,
    tokens: postgresTokenStore(ctx.db.sql),
    ratePerSecond: env.KRT_RATE_LIMIT_PER_S ?? 200,
    refreshMarginMs: env.KRT_TOKEN_REFRESH_MARGIN_MS ?? 60_000,
    now,
  });
  const cacheOptions = { refreshMs: env.DRIVER_CACHE_REFRESH_MS ?? 5_000, logger: ctx.logger, now };
  const profiles = driverProfilesCache(new DriverProfilesClient({ baseUrl: profilesUrl, ...ctx.partner }), cacheOptions);
  const categories = driverCategoriesCache(new DriverCategoriesClient({ baseUrl: categoriesUrl, ...ctx.partner }), cacheOptions);
  const trackstory = new TrackstoryClient({ baseUrl: trackstoryUrl, ...ctx.partner });
  const personal = new PersonalClient({ baseUrl: personalUrl, ...ctx.partner });
  const retryBaseMs = env.KRT_RETRY_BASE_MS ?? 1_000;
  const kind = krtSessionKind({ krt, now, retry: { baseMs: retryBaseMs, maxMs: env.KRT_RETRY_MAX_MS ?? 60_000 } });

  // Counted in place per status and handed to the counter when read: prom-client hashes the
  // labels on every `inc`, which at 20,000 statuses/s is time worth keeping.
  const uncounted = new Map<StatusOutcome, number>();
  new Counter({
    name: "fleet_status_events_total",
    help: "Driver status messages by what became of them",
    labelNames: ["outcome"],
    registers: [ctx.registry],
    collect() {
      for (const [outcome, n] of uncounted) this.inc({ outcome }, n);
      uncounted.clear();
    },
  });
  let stream: RunningStatusStream | undefined;
  new Gauge({
    name: "fleet_status_outstanding",
    help: "Status messages taken from JetStream and not yet settled",
    registers: [ctx.registry],
    collect() {
      this.set(stream?.outstanding() ?? 0);
    },
  });
  new Gauge({
    name: "fleet_status_stream_lag",
    help: "Statuses in the durable consumer not yet delivered (undelivered) or not yet acknowledged (unacknowledged), all instances together",
    labelNames: ["state"],
    registers: [ctx.registry],
    async collect() {
      const lag = await stream?.lag().catch(() => undefined);
      if (!lag) return; // no stream, or JetStream did not answer: the last value stands
      this.set({ state: "undelivered" }, lag.undelivered);
      this.set({ state: "unacknowledged" }, lag.unacknowledged);
    },
  });
  new Gauge({
    name: "fleet_krt_calls_waiting",
    help: "KRT calls of this instance waiting for its rate limit (KRT_RATE_LIMIT_PER_S)",
    registers: [ctx.registry],
    collect() {
      this.set(krt.waiting);
    },
  });
  const count = (outcome: StatusOutcome, n = 1) => void uncounted.set(outcome, (uncounted.get(outcome) ?? 0) + n);

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
      driverStatusRoutes(app, { ...deps, system, profiles, personal, krt, now, blocking: env.CAN_TAKE_ORDERS_BLOCKING === "true" });

      const historyDays = env.SESSION_HISTORY_DAYS ?? 7;
      const prune = setInterval(() => {
        pruneSessionHistory(ctx.db.sql, new Date(now() - historyDays * 86_400_000)).catch((error) =>
          ctx.logger.warn("session history prune failed", { error: String(error) }),
        );
      }, 3_600_000);
      ctx.onStop(async () => clearInterval(prune));

      // Without NATS there is no JetStream, hence no status stream; everything else works.
      const natsUrl = env.STATUS_NATS_URL ?? ctx.config.cluster?.natsUrl;
      if (!natsUrl) return;
      let stopped = false;
      const maxAckPending = env.STATUS_MAX_ACK_PENDING ?? 20_000;
      const start = async () => {
        // Filtering against a half-filled copy would drop statuses of drivers it does not hold yet.
        await Promise.all([profiles.cache.ready(), categories.cache.ready()]);
        for (let attempt = 0; !stopped; attempt++) {
          try {
            const running = await runStatusStream({
              natsUrl,
              connectionName: `${ctx.config.instanceId}-statuses`,
              ingest: env.STATUS_INGEST ?? "worker",
              names: {
                stream: env.STATUS_STREAM ?? "CONTRACTOR_STATUSES",
                subject: env.STATUS_SUBJECT ?? "contractor.statuses.events",
                consumer: env.STATUS_CONSUMER ?? "krt-sessions",
                deadLetterStream: env.STATUS_DEAD_LETTER_STREAM ?? "CONTRACTOR_STATUSES_DEAD",
                deadLetterSubject: env.STATUS_DEAD_LETTER_SUBJECT ?? "contractor.statuses.dead-letter",
              },
              limits: {
                maxAckPending,
                ackWaitMs: env.STATUS_ACK_WAIT_MS ?? 30_000,
                pullBatch: env.STATUS_PULL_BATCH ?? 1_000,
                maxAgeMs: 86_400_000,
              },
              sources: {
                profiles: { licenceOf: profiles.licenceOf, refreshNow: () => profiles.cache.refreshNow() },
                categoriesOf: categories.categoriesOf,
                positions: (drivers) => trackstory.positions(drivers),
                tell: (change) =>
                  system.tell(
                    `krt-session/${change.licence}`,
                    { type: "connectivity", park_id: change.park_id, driver_id: change.driver_id, connected: change.connected, status_at: change.at },
                    // Redelivered after a crash, the same status is dropped by the actor; driver and
                    // time name it (another status of that driver and time would be refused as not newer).
                    { messageId: `status:${change.driver}:${change.at}` },
                  ),
              },
              options: {
                categories: (env.STATUS_CATEGORIES ?? "econom,comfort,comfort_plus").split(","),
                regions: (env.STATUS_REGIONS ?? "moscow").split(","),
                debounceMs: env.STATUS_DEBOUNCE_MS ?? 1_000,
                maxDelayMs: env.STATUS_MAX_DELAY_MS ?? 5_000,
                // 10 ms late at most, and under load the tells (and their commits) go in batches.
                releaseResolutionMs: 10,
                // Half the ack limit may wait out windows; the other half keeps the filters and tells going.
                coalesceMaxHeld: Math.max(1, Math.floor(maxAckPending / 2)),
                // One driver's statuses are spread over the instances of a cluster: see dropRepeats.
                dropRepeats: ctx.config.cluster === undefined,
                // Each tell waits for its actor's commit, so tells per second = this / commit
                // latency: enough to fill the group commit's batches (4 in flight x 1,000) under load.
                tellConcurrency: env.STATUS_TELL_CONCURRENCY ?? 4_096,
                lookupConcurrency: 4,
                lookupBatchSize: 1_000,
                // One lookup per 10 ms slice instead of one per driver (statuses arrive one by one).
                lookupGatherMs: 10,
                insideRegionTtlMs: env.STATUS_REGION_TTL_MS ?? 10_000,
                retryBaseMs: 200,
                retryMaxMs: 5_000,
                memoryCapacity: 1_000_000,
                missRefreshMs: 1_000,
                count,
                now,
              },
              logger: ctx.logger,
            });
            if (stopped) await running.stop();
            else stream = running;
            return;
          } catch (error) {
            ctx.logger.warn("status stream not started; retrying", { attempt, error: String(error) });
            await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
          }
        }
      };
      void start();
      ctx.onStop(async () => {
        stopped = true;
        await stream?.stop();
      });
    },
  };
}
