// A service is one product area (mailings, customers, cabinets, ...) plugged into an instance:
// its actor kinds, its partner clients (or their simulators), its routes and background work.
import type { Server } from "hyper-express";
import type { Registry } from "prom-client";
import type { Config } from "../config.ts";
import type { Database } from "../storage/database.ts";
import type { ActorKind } from "../actors/ActorKind.ts";
import type { Address } from "../actors/protocol.ts";
import type { ActorSystem } from "../actors/ActorSystem.ts";
import type { Clock } from "../actors/clock.ts";
import type { Logger } from "../actors/logger.ts";
import type { RouteDeps } from "../http/route.ts";
import type { ReadinessCheck } from "../http/routes/ops.ts";
import type { Simulator } from "../integrations/simulator.ts";
import type { PartnerClientOptions } from "../integrations/http.ts";

export interface ServiceContext {
  config: Config;
  db: Database;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  /** `<cluster>.events`: where public events go. */
  eventPrefix: string;
  /**
   * Whether an address is hosted by this instance: always in embedded mode, by shard in a
   * cluster. Per-instance background work (polling, stream partitions) uses it.
   */
  hostsHere(address: Address): boolean;
  /** Per-attempt timeout and retries of partner HTTP calls, and where each call is counted. */
  partner: Pick<PartnerClientOptions, "timeoutMs" | "retries" | "observe">;
  /** Registers a step run on stop, last registered first. */
  onStop(step: () => Promise<void>): void;
  /**
   * The partner URL read from `variable`, or, when it is unset, the URL of a simulator started
   * (and stopped) for it if SIMULATORS allows; else start-up fails naming the variable.
   * @example await ctx.partnerUrl("FEEDS_URL", config.feedsUrl, () => startFeedsSimulator(), (s) => (simulators.feeds = s))
   */
  partnerUrl<S extends Simulator>(variable: string, url: string | undefined, start: () => Promise<S>, register: (sim: S) => void): Promise<string>;
  /** Throws a ConfigError unless SIMULATORS lets this instance simulate the partner behind `variable` (e.g. MQTT_URL); warns outside embedded mode. */
  allowSimulator(variable: string): void;
}

export interface Service {
  readonly name: string;
  readonly kinds: readonly ActorKind[];
  /** Once the actor system exists, before HTTP listens: routes, streams, pollers. */
  attach(system: ActorSystem, app: Server, deps: RouteDeps): Promise<void> | void;
  readonly checks?: readonly ReadinessCheck[];
}

export type ServiceFactory = (ctx: ServiceContext) => Promise<Service>;
