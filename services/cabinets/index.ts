// Battery cabinets and accumulators (SPEC 3.1, seed 002): cabinet and accumulator actors, the MQTT
// device gateway (or, with MQTT_URL unset, an embedded broker with simulated cabinets), polling,
// and the /scooter-accumulator/v1 routes.
import { Schema } from "effect";
import { Subject, tap } from "rxjs";
import { Counter, Gauge } from "prom-client";
import { decodeEnv, PositiveInt, Url } from "../../config.ts";
import { cabinetKind } from "./cabinetKind.ts";
import { accumulatorKind } from "./accumulatorKind.ts";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { cabinetRoutes, type CabinetPolicy } from "../../http/routes/cabinets.ts";
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

const NonNegativeInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0));
const Share = Schema.NumberFromString.check(Schema.isBetween({ minimum: 0, maximum: 1 }));
const CabinetEnv = Schema.Struct({
  MQTT_URL: Schema.optional(Url),
  MQTT_TOPIC_PREFIX: Schema.optional(Schema.String.check(Schema.isPattern(/^[^#+\s]*$/, { message: "expected a topic prefix without wildcards or spaces" }))),
  CABINET_POLL_MS: Schema.optional(PositiveInt),
  CABINET_POLL_JITTER: Schema.optional(Share),
  CABINET_POLL_CONCURRENCY: Schema.optional(PositiveInt),
  CABINET_MISSED_POLLS: Schema.optional(PositiveInt),
  CABINET_COMMAND_TIMEOUT_MS: Schema.optional(PositiveInt),
  CABINET_REPORT_HEARTBEAT_MS: Schema.optional(NonNegativeInt),
  BOOKING_TTL_MS: Schema.optional(PositiveInt),
  CHARGED_MIN_CHARGE: Schema.optional(Schema.NumberFromString.check(Schema.isBetween({ minimum: 0, maximum: 100 }))),
});

export interface CabinetService extends Service {
  /** Started only when MQTT_URL is unset. */
  simulators: { cabinets?: CabinetSimulator; mqttBroker?: EmbeddedBroker };
  gateway: CabinetGateway;
}

export async function cabinetService(ctx: ServiceContext): Promise<CabinetService> {
  const env = decodeEnv(CabinetEnv, ctx.config.env);
  const prefix = env.MQTT_TOPIC_PREFIX ?? "";
  const pollMs = env.CABINET_POLL_MS ?? 10_000;
  const commandTimeoutMs = env.CABINET_COMMAND_TIMEOUT_MS ?? 5_000;
  const missedPolls = env.CABINET_MISSED_POLLS ?? 3;
  const policy: CabinetPolicy = { bookingTtlMs: env.BOOKING_TTL_MS ?? 15 * 60_000, commandTimeoutMs, chargedMinCharge: env.CHARGED_MIN_CHARGE ?? 80 };
  const logger = ctx.logger.child({ service: "cabinets" });

  const simulators: CabinetService["simulators"] = {};
  let url = env.MQTT_URL;
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
      startPolling(ctx, system, gateway, registered, {
        pollMs,
        jitter: env.CABINET_POLL_JITTER ?? 0.1,
        missedPolls,
        commandTimeoutMs,
        concurrency: env.CABINET_POLL_CONCURRENCY ?? 200,
        heartbeatMs: env.CABINET_REPORT_HEARTBEAT_MS ?? 60_000,
      });
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
  o: { pollMs: number; jitter: number; missedPolls: number; commandTimeoutMs: number; concurrency: number; heartbeatMs: number },
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
    schedule: { intervalMs: o.pollMs, jitter: o.jitter },
    // A poll waits at most an interval: the next one is due then.
    poll: (id) => gateway.inventory(id, { timeoutMs: Math.min(o.commandTimeoutMs, o.pollMs) }),
    now: () => ctx.clock.now(),
    concurrency: o.concurrency,
    heartbeatMs: o.heartbeatMs,
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
