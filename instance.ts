// Composes one instance from its config: storage, partner clients (or their simulators),
// the actor system with every actor kind, and the HTTP server.
import path from "node:path";
import { mkdirSync } from "node:fs";
import type { Server } from "hyper-express";
import { Registry, collectDefaultMetrics } from "prom-client";
import { invalidConfiguration, simulatedPartner, type Config } from "./config.ts";
import { openEmbedded, openPostgres, type Database } from "./storage/database.ts";
import { pruneIdempotencyKeys } from "./storage/idempotencyStore.ts";
import { ActorSystem } from "./actors/ActorSystem.ts";
import type { ActorKind } from "./actors/ActorKind.ts";
import { InProcessTransport } from "./actors/transport/InProcessTransport.ts";
import { ClusterMember } from "./actors/cluster/ClusterMember.ts";
import { systemClock, type Clock } from "./actors/clock.ts";
import { createLogger, type Logger } from "./actors/logger.ts";
import { createHttpServer } from "./http/server.ts";
import { TokenRoles } from "./http/tokens.ts";
import { partnerCallMetrics } from "./integrations/partnerMetrics.ts";
import type { RouteDeps } from "./http/route.ts";
import { adminRoutes } from "./http/routes/admin.ts";
import { inspectorRoutes } from "./http/routes/inspector.ts";
import { Inspection } from "./actors/Inspection.ts";
import { StatelyStream } from "./actors/StatelyInspect.ts";
import type { ServiceContext } from "./services/Service.ts";
import { mailingService, type MailingService } from "./services/mailings/index.ts";
import { customerService, type CustomerService } from "./services/customers/index.ts";
import { driverStatusService, type DriverStatusService } from "./services/driverStatus/index.ts";
import { cabinetService, type CabinetService } from "./services/cabinets/index.ts";
import { mentorshipService, type MentorshipService } from "./services/mentorship/index.ts";

export interface Instance {
  url: string;
  port: number;
  config: Config;
  db: Database;
  system: ActorSystem;
  registry: Registry;
  /** Live inspection (the inspector's feed and cross-instance questions). */
  inspection: Inspection;
  /** Set in cluster mode (NATS_URL). */
  cluster: ClusterMember | undefined;
  services: {
    mailings: MailingService;
    customers: CustomerService;
    driverStatus: DriverStatusService;
    cabinets: CabinetService;
    mentorship: MentorshipService;
  };
  /** The simulators this instance started because their URL was unset. */
  simulators: MailingService["simulators"] &
    CustomerService["simulators"] &
    DriverStatusService["simulators"] &
    CabinetService["simulators"] &
    MentorshipService["simulators"];
  stop(): Promise<void>;
}

export interface InstanceOptions {
  clock?: Clock;
  logger?: Logger;
  /** An already opened database (tests share one schema between instances). */
  db?: Database;
  /** More actor kinds and routes (tests and benches add their own). */
  extraKinds?: readonly ActorKind[];
  extraRoutes?: (app: Server, deps: RouteDeps & { system: ActorSystem }) => void;
}

/**
 * Starts an instance; `stop()` drains HTTP, commits actors and closes everything it opened.
 * @example const instance = await startInstance(loadConfig(process.env))
 */
export async function startInstance(config: Config, options: InstanceOptions = {}): Promise<Instance> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel, base: { instance: config.instanceId } });
  const registry = new Registry();
  // Event loop delay sampled every 100 ms, not prom-client's 10: each sample wakes an idle
  // process (100 wakeups/s cost 0.004 of a core on the bench machine, 10 cost 0.0005).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const cleanups: (() => Promise<void>)[] = [];

  try {
    const db = options.db ?? (await openDatabase(config));
    if (!options.db) cleanups.push(() => db.close());

    const cluster = config.cluster
      ? await ClusterMember.connect({
          natsUrl: config.cluster.natsUrl,
          natsAuth: config.natsAuth,
          cluster: config.cluster.name,
          instanceId: config.instanceId,
          shardCount: config.cluster.shardCount,
          leaseMs: config.cluster.leaseMs,
          sql: db.sql,
          logger,
          registry,
        })
      : undefined;
    if (cluster) cleanups.push(() => cluster.close());

    const eventPrefix = `${config.cluster?.name ?? "fleet"}.events`;
    const allowSimulator = (variable: string) => {
      const partner = simulatedPartner(variable);
      if (!config.simulators.all && !config.simulators.names.has(partner))
        throw invalidConfiguration([`${variable}: required (or SIMULATORS=${partner} to run its built-in simulator)`]);
      if (config.mode === "production") logger.warn("starting a built-in simulator in place of a partner", { partner, variable });
    };
    const context: ServiceContext = {
      config,
      db,
      clock,
      logger,
      registry,
      eventPrefix,
      hostsHere: (address) => (cluster ? cluster.placement.owns(cluster.placement.shardOf(address)) : true),
      partner: { timeoutMs: config.partnerTimeoutMs, retries: config.partnerRetries, observe: partnerCallMetrics(registry) },
      onStop: (step) => void cleanups.push(step),
      allowSimulator,
      partnerUrl: async (variable, url, start, register) => {
        if (url) return url;
        allowSimulator(variable);
        const simulator = await start();
        cleanups.push(() => simulator.close());
        register(simulator);
        return simulator.url;
      },
    };
    const services = {
      mailings: await mailingService(context),
      customers: await customerService(context),
      driverStatus: await driverStatusService(context),
      cabinets: await cabinetService(context),
      mentorship: await mentorshipService(context),
    };
    const all = Object.values(services);

    const transport = cluster?.transport ?? new InProcessTransport();
    const system = new ActorSystem({
      sql: db.sql,
      kinds: [...all.flatMap((s) => s.kinds), ...(options.extraKinds ?? [])],
      transport,
      ...(cluster ? { placement: cluster.placement } : {}),
      eventPrefix,
      clock,
      logger,
      registry,
      askTimeoutMs: config.askTimeoutMs,
      passivateAfterMs: config.passivateAfterMs,
      sleepAfterMs: config.sleepAfterMs,
      journalRetentionMs: config.journalRetentionDays * 86_400_000,
    });
    cleanups.push(() => system.stop());
    const inspection = new Inspection({
      system,
      transport,
      prefix: config.cluster?.name ?? "fleet",
      instanceId: config.instanceId,
      maxPerSecond: config.inspectMaxPerSecond,
      registry,
      ...(cluster ? { about: () => ({ handovers: cluster.shards().handovers }) } : {}),
    });
    cleanups.push(async () => inspection.close());
    if (config.inspectStatelyUrl) {
      const stately = new StatelyStream({ system, url: config.inspectStatelyUrl, logger, maxPerSecond: config.inspectMaxPerSecond });
      stately.start();
      cleanups.push(() => stately.stop());
    }
    if (cluster) {
      await cluster.join(system);
      // On stop: hand shards over (their actors committed) before the system stops.
      cleanups.push(() => cluster.leave());
    }

    const http = createHttpServer({
      sql: db.sql,
      tokens: new TokenRoles(config.tokens),
      bodyLimitBytes: config.bodyLimitBytes,
      idempotencyLeaseMs: config.idempotencyLeaseMs,
      requestTimeoutMs: config.requestTimeoutMs,
      logger,
      registry,
      instanceId: config.instanceId,
      checks: [
        { name: "database", check: async () => void (await db.sql`select 1`) },
        ...(cluster ? [{ name: "cluster", check: () => cluster.check() }] : []),
        // A service's own dependencies are reported, and fail only that service's routes.
        ...all.flatMap((s) => (s.checks ?? []).map((c) => ({ ...c, service: s.name }))),
      ],
      describe: () => (cluster ? { cluster: cluster.status() } : { mode: "embedded" }),
    });
    for (const service of all) await service.attach(system, http.app, { ...http.deps, tag: service.name });
    adminRoutes(http.app, { ...http.deps, system, instanceId: config.instanceId, cluster: () => cluster?.status() });
    inspectorRoutes(http.app, { ...http.deps, tag: "inspector", system, inspection, instanceId: config.instanceId, cluster });
    options.extraRoutes?.(http.app, { ...http.deps, system });
    const port = await http.listen(config.port, config.host);
    cleanups.push(() => http.close());

    const prune = setInterval(() => {
      pruneIdempotencyKeys(db.sql, new Date(clock.now() - 86_400_000)).catch((error) => logger.warn("idempotency prune failed", { error: String(error) }));
    }, 3_600_000);
    cleanups.push(async () => clearInterval(prune));

    const url = `http://${config.host}:${port}`;
    logger.info("instance ready", { url, database: db.backend });
    return {
      url,
      port,
      config,
      db,
      system,
      registry,
      inspection,
      cluster,
      services,
      simulators: {
        ...services.mailings.simulators,
        ...services.customers.simulators,
        ...services.driverStatus.simulators,
        ...services.cabinets.simulators,
        ...services.mentorship.simulators,
      },
      // Reverse order: stop taking requests first, then commit actors, then close storage.
      stop: () => runAll(cleanups.reverse()),
    };
  } catch (error) {
    await runAll(cleanups.reverse());
    throw error;
  }
}

async function openDatabase(config: Config): Promise<Database> {
  if (config.databaseUrl) return openPostgres({ url: config.databaseUrl, timeouts: config.databaseTimeouts });
  const dir = path.resolve(config.dataDir, "pglite");
  mkdirSync(dir, { recursive: true });
  return openEmbedded({ dataDir: dir });
}

async function runAll(steps: (() => Promise<void>)[]): Promise<void> {
  for (const step of steps) await step().catch(() => {});
}
