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
import { listCabinetIds, recordReportsHeard } from "../../storage/cabinetRepository.ts";
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
    ctx.allowSimulator("MQTT_URL");
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
    auth: config.mqttAuth,
    prefix,
    commandTimeoutMs,
    registry: ctx.registry,
    logger: ctx.logger.child({ service: "cabinets" }),
    clientId: `${ctx.config.instanceId}-cabinets`,
  });
  ctx.onStop(() => gateway.close());
  return { gateway, simulators };
}

/**
 * Closed cells, device-initiated reports and late answers go to the cabinet actor hosted here. In
 * a cluster every instance hears every cabinet and the one hosting the actor passes the event on;
 * while a shard changes hands nobody may host it, so an instance holds an event for a cabinet it
 * does not host for a lease and a margin, and passes it on if the cabinet comes to it meanwhile.
 * A cabinet's events pass on in the order they were heard (held ones first): these events state
 * facts, so the old owner may have applied some already, but replayed in order they end where the
 * device is.
 */
export function forwardDeviceEvents(ctx: ServiceContext, system: ActorSystem, gateway: CabinetGateway, commandTimeoutMs: number): void {
  const hosted = (cabinetId: string) => ctx.hostsHere({ type: "cabinet", id: cabinetId });
  const handoverMs = (ctx.config.cluster?.leaseMs ?? 0) + 2_000;
  const pass = (heard: UnsolicitedEvent, at: number) =>
    system
      .tell(`cabinet/${heard.cabinetId}`, deviceMessage(heard, at, commandTimeoutMs))
      .catch((error) => ctx.logger.warn("cabinet event not delivered", { cabinet_id: heard.cabinetId, type: heard.event.type, error: String(error) }));
  let held: { heard: UnsolicitedEvent; at: number }[] = [];
  const heldPer = new Map<string, number>();
  const release = (cabinetId: string) => {
    const left = (heldPer.get(cabinetId) ?? 1) - 1;
    if (left > 0) heldPer.set(cabinetId, left);
    else heldPer.delete(cabinetId);
  };
  // Runs only while something is held: an idle instance wakes for nothing.
  let recheck: NodeJS.Timeout | undefined;
  const unsubscribe = gateway.onUnsolicited((heard) => {
    const at = ctx.clock.now();
    if (!heldPer.has(heard.cabinetId) && hosted(heard.cabinetId)) return void pass(heard, at);
    held.push({ heard, at });
    heldPer.set(heard.cabinetId, (heldPer.get(heard.cabinetId) ?? 0) + 1);
    recheck ??= setInterval(passHeld, HANDOVER_RECHECK_MS);
  });
  const passHeld = () => {
    const now = ctx.clock.now();
    const kept: typeof held = [];
    for (const h of held) {
      if (hosted(h.heard.cabinetId)) void pass(h.heard, h.at);
      else if (now - h.at < handoverMs) {
        kept.push(h);
        continue;
      }
      release(h.heard.cabinetId);
    }
    held = kept;
    if (held.length === 0) {
      clearInterval(recheck);
      recheck = undefined;
    }
  };
  ctx.onStop(async () => {
    clearInterval(recheck);
    unsubscribe();
  });
}

/** How often held device events check whether their cabinet has come to this instance. */
const HANDOVER_RECHECK_MS = 100;

/** The cabinet actor's event for what a device said, heard at `at`. */
function deviceMessage({ event }: UnsolicitedEvent, at: number, commandTimeoutMs: number) {
  if (event.type === "cell_closed") return { type: "cell_closed", cell: event.cell, accumulator_id: event.accumulator_id };
  if (event.type === "unlock_result") return { type: "unlock_result_late", request_id: event.request_id, opened: [...event.opened], failed: [...event.failed] };
  // Its poll (if any) may have been sent up to a timeout ago: the actor judges it as that old.
  return { type: "inventory_reported", polled_at: at - commandTimeoutMs, cells: event.cells.map((c) => ({ ...c })) };
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
  const heard = reportsHeardInBatches(ctx);
  const subscription = cabinetPolling({
    cabinets$,
    pollNow$: registered,
    schedule: { intervalMs: o.pollMs, jitter: o.pollJitter },
    // A poll waits at most an interval: the next one is due then.
    poll: (id) => gateway.inventory(id, { timeoutMs: Math.min(o.commandTimeoutMs, o.pollMs) }),
    now: () => ctx.clock.now(),
    concurrency: o.pollConcurrency,
    heartbeatMs: o.reportHeartbeatMs,
    heard,
    observe: (outcome) => polls.inc({ outcome: outcome.kind }),
    // A report is asked: the answer says whether the actor applied it (see skipUnchangedReports).
    tell: async (outcome: PollOutcome) =>
      outcome.kind === "report"
        ? system.ask<{ applied: boolean }>(
            `cabinet/${outcome.cabinetId}`,
            { type: "inventory_reported", polled_at: outcome.polledAt, cells: outcome.cells },
            { timeoutMs: 10_000 },
          )
        : void (await system.tell(`cabinet/${outcome.cabinetId}`, { type: "poll_missed", limit: o.missedPolls }, { timeoutMs: 10_000 })),
    onTellError: (outcome, error) => ctx.logger.warn("poll outcome not delivered", { cabinet_id: outcome.cabinetId, kind: outcome.kind, error: String(error) }),
  }).subscribe();
  ctx.onStop(async () => subscription.unsubscribe());
}

/** How long the unchanged reports heard gather before their `last_report_at` is written, in one statement. */
const REPORTS_HEARD_WRITE_MS = 5_000;

/**
 * Unchanged reports reach the cabinet actor only as a heartbeat (an ask, a turn and a commit
 * each); the others still say the cabinet is alive, and its row's `last_report_at` follows them
 * within REPORTS_HEARD_WRITE_MS, one write for all. It is the time of the last report, not a
 * state anyone is answered about: lost with the instance, it is written again by the next poll.
 */
function reportsHeardInBatches(ctx: ServiceContext): (cabinetId: string, at: number) => void {
  let heard = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  const write = async () => {
    timer = undefined;
    const batch = heard;
    heard = new Map();
    await recordReportsHeard(ctx.db.sql, batch).catch((error) =>
      ctx.logger.warn("last report times not written", { cabinets: batch.size, error: String(error) }),
    );
  };
  ctx.onStop(async () => {
    clearTimeout(timer);
    await write();
  });
  return (cabinetId, at) => {
    heard.set(cabinetId, at);
    timer ??= setTimeout(write, REPORTS_HEARD_WRITE_MS);
  };
}
