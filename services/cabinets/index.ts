// Battery cabinets and accumulators (SPEC 3.1, seed 002): cabinet and accumulator actors, the MQTT
// device gateway (or, with MQTT_URL unset, an embedded broker with simulated cabinets), polling,
// and the /scooter-accumulator/v1 routes.
import { Subject, tap } from "rxjs";
import { Counter, Gauge } from "prom-client";
import { cabinetsConfig, type CabinetsConfig } from "./config.ts";
import { cabinetKind } from "./cabinetKind.ts";
import { accumulatorKind } from "./accumulatorKind.ts";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { cabinetRoutes, type CabinetPolicy } from "../../http/routes/cabinets/index.ts";
import {
  CabinetGateway,
  demoCabinets,
  startCabinetSimulator,
  startEmbeddedBroker,
  type CabinetSimulator,
  type EmbeddedBroker,
  type UnsolicitedEvent,
} from "../../integrations/cabinet/index.ts";
import { cabinetPolling, hostedCabinets, type PollOutcome } from "../../streams/cabinetPolling.ts";
import { listCabinetIds } from "../../storage/cabinetRepository.ts";
import type { Service, ServiceContext } from "../Service.ts";

export interface CabinetService extends Service {
  /** Started only when MQTT_URL is unset. */
  simulators: { cabinets?: CabinetSimulator; mqttBroker?: EmbeddedBroker };
  gateway: CabinetGateway;
}

export async function cabinetService(ctx: ServiceContext): Promise<CabinetService> {
  const config = cabinetsConfig(ctx.config.env);
  const { topicPrefix: prefix, commandTimeoutMs } = config;
  const policy: CabinetPolicy = { bookingTtlMs: config.bookingTtlMs, commandTimeoutMs, chargedMinCharge: config.chargedMinCharge };
  const logger = ctx.logger.child({ service: "cabinets" });

  const simulators: CabinetService["simulators"] = {};
  let url = config.mqttUrl;
  if (!url) {
    const broker = await startEmbeddedBroker();
    ctx.onStop(() => broker.close());
    simulators.mqttBroker = broker;
    url = broker.url;
    if (ctx.config.demoData) {
      const sim = await startCabinetSimulator({ url, prefix, cabinets: demoCabinets() });
      ctx.onStop(() => sim.close());
      simulators.cabinets = sim;
    }
  }
  const gateway = await CabinetGateway.connect({
    url,
    prefix,
    commandTimeoutMs,
    registry: ctx.registry,
    logger,
    clientId: `${ctx.config.instanceId}-cabinets-${Math.random().toString(16).slice(2, 8)}`,
  });
  ctx.onStop(() => gateway.close());
  const now = () => ctx.clock.now();

  return {
    name: "cabinets",
    kinds: [cabinetKind({ devices: gateway, now }), accumulatorKind()],
    simulators,
    gateway,
    checks: [{ name: "mqtt", check: () => gateway.check() }],
    attach: async (system, app, deps) => {
      const registered = new Subject<string>();
      cabinetRoutes(app, { ...deps, system, policy, registered: (id) => registered.next(id) });
      forwardDeviceEvents(ctx, system, gateway, commandTimeoutMs);
      startPolling(ctx, system, gateway, registered, config);
      if (simulators.cabinets) {
        for (const spec of simulators.cabinets.cabinets.values()) {
          await system.ask(`cabinet/${spec.id}`, { type: "register", lat: spec.spec.lat, lon: spec.spec.lon });
          registered.next(spec.id);
        }
      }
    },
  };
}

/** Closed cells, device-initiated reports and late answers go to the cabinet actor hosted here. */
function forwardDeviceEvents(ctx: ServiceContext, system: ActorSystem, gateway: CabinetGateway, commandTimeoutMs: number): void {
  const forward = ({ cabinetId, event }: UnsolicitedEvent) => {
    // In a cluster every instance hears every cabinet; the one hosting the actor passes it on.
    if (!ctx.hostsHere({ type: "cabinet", id: cabinetId })) return;
    const message =
      event.type === "cell_closed"
        ? { type: "cell_closed", cell: event.cell, accumulator_id: event.accumulator_id }
        : event.type === "unlock_result"
          ? { type: "unlock_result_late", request_id: event.request_id, opened: [...event.opened], failed: [...event.failed] }
          : // Its poll (if any) may have been sent up to a timeout ago: the actor judges it as that old.
            { type: "inventory_reported", polled_at: ctx.clock.now() - commandTimeoutMs, cells: event.cells.map((c) => ({ ...c })) };
    system
      .tell(`cabinet/${cabinetId}`, message)
      .catch((error) => ctx.logger.warn("cabinet event not delivered", { cabinet_id: cabinetId, type: event.type, error: String(error) }));
  };
  ctx.onStop(async () => unsubscribe());
  const unsubscribe = gateway.onUnsolicited(forward);
}

function startPolling(
  ctx: ServiceContext,
  system: ActorSystem,
  gateway: CabinetGateway,
  /** Cabinets registered through this instance: listed again, and polled at once rather than at their phase. */
  registered: Subject<string>,
  o: CabinetsConfig,
): void {
  const polls = new Counter({
    name: "fleet_cabinet_polls_total",
    help: "Cabinet polls by outcome (report, missed, skipped: broker down)",
    labelNames: ["outcome"],
    registers: [ctx.registry],
  });
  const polled = new Gauge({ name: "fleet_cabinets_polled", help: "Registered cabinets this instance polls", registers: [ctx.registry] });
  const cabinets$ = hostedCabinets(
    () => listCabinetIds(ctx.db.sql),
    (id) => ctx.hostsHere({ type: "cabinet", id }),
    {
      refreshMs: Math.min(o.pollMs, 5_000),
      refresh$: registered,
      onError: (error) => ctx.logger.warn("cabinet list for polling failed", { error: String(error) }),
    },
  ).pipe(tap((ids) => polled.set(ids.length)));
  const subscription = cabinetPolling({
    cabinets$,
    pollNow$: registered,
    schedule: { intervalMs: o.pollMs, jitter: o.pollJitter },
    // A poll waits at most an interval: the next one is due then.
    poll: (id) => gateway.inventory(id, { timeoutMs: Math.min(o.commandTimeoutMs, o.pollMs) }),
    now: () => ctx.clock.now(),
    concurrency: o.pollConcurrency,
    heartbeatMs: o.reportHeartbeatMs,
    observe: (outcome) => polls.inc({ outcome: outcome.kind }),
    tell: (outcome: PollOutcome) =>
      system.tell(
        `cabinet/${outcome.cabinetId}`,
        outcome.kind === "report"
          ? { type: "inventory_reported", polled_at: outcome.polledAt, cells: outcome.cells }
          : { type: "poll_missed", limit: o.missedPolls },
        { timeoutMs: 10_000 },
      ),
    onTellError: (outcome, error) => ctx.logger.warn("poll outcome not delivered", { cabinet_id: outcome.cabinetId, kind: outcome.kind, error: String(error) }),
  }).subscribe();
  ctx.onStop(async () => subscription.unsubscribe());
}
