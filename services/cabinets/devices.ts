// The cabinets' devices: the MQTT gateway (or, with MQTT_URL unset, an embedded broker with
// simulated cabinets), device events forwarded to the cabinet actors, and the inventory polling.
import { type Subject, tap } from "rxjs";
import { Counter, Gauge } from "prom-client";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
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
import type { ServiceContext } from "../Service.ts";
import type { CabinetsConfig } from "./config.ts";

export interface CabinetDevicesLink {
  gateway: CabinetGateway;
  /** Started only when MQTT_URL is unset. */
  simulators: { cabinets?: CabinetSimulator; mqttBroker?: EmbeddedBroker };
}

/** Connects the gateway to MQTT_URL, or to an embedded broker (with the demo cabinets when DEMO_DATA is on). */
export async function connectDevices(ctx: ServiceContext, config: CabinetsConfig): Promise<CabinetDevicesLink> {
  const { topicPrefix: prefix, commandTimeoutMs } = config;
  const simulators: CabinetDevicesLink["simulators"] = {};
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
    logger: ctx.logger.child({ service: "cabinets" }),
    clientId: `${ctx.config.instanceId}-cabinets-${Math.random().toString(16).slice(2, 8)}`,
  });
  ctx.onStop(() => gateway.close());
  return { gateway, simulators };
}

/** Closed cells, device-initiated reports and late answers go to the cabinet actor hosted here. */
export function forwardDeviceEvents(ctx: ServiceContext, system: ActorSystem, gateway: CabinetGateway, commandTimeoutMs: number): void {
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

export function startPolling(
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
