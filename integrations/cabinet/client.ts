// The cabinet device port and its MQTT gateway: commands out with a `request_id`, replies matched
// back to the waiting request, everything else (closed cells, device-initiated reports, answers
// that came after their request timed out) handed to one listener. Every payload is decoded with
// Schema; a malformed or unknown message is counted and logged, and never throws.
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import type { Writable } from "node:stream";
import mqtt, { type MqttClient } from "mqtt";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Logger } from "../../actors/logger.ts";
import { describeConnectError, type MqttAuth, mqttConnectionOptions } from "./connection.ts";
import { CabinetNotRespondingError, CommandAbortedError, MqttUnavailableError } from "./errors.ts";
import {
  allEvents,
  cabinetOfTopic,
  commandsTopic,
  decodeDeviceEvent,
  isMalformed,
  type Command,
  type DeviceEvent,
  type InventoryReport,
  type Malformed,
  type UnlockResult,
} from "./protocol.ts";

/** What the cabinet service needs from the devices. */
export interface CabinetDevices {
  /** Asks for the cells and charges; rejects with CabinetNotRespondingError / MqttUnavailableError. */
  inventory(cabinetId: string, options?: { timeoutMs?: number }): Promise<InventoryReport>;
  /** Opens cells; `requestId` is stable per attempt so a device can drop a repeat. */
  /** `timeoutMs` shortens the command timeout (never lengthens it). */
  unlock(cabinetId: string, requestId: string, cells: readonly number[], options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<UnlockResult>;
}

/** A device event no request was waiting for; `late` marks an answer whose request had timed out. */
export type UnsolicitedEvent = { cabinetId: string; event: DeviceEvent; late: boolean };

export interface CabinetGatewayOptions {
  url: string;
  /** Topic prefix before `$devices/...`; empty by default. */
  prefix?: string;
  commandTimeoutMs: number;
  /** Keep it stable per instance (e.g. its INSTANCE_ID): the broker keeps the session under it. Random by default. */
  clientId?: string;
  /** TLS (CA, client certificate) and login; none by default. */
  auth?: MqttAuth;
  registry: Registry;
  logger: Logger;
  /** How long `connect` waits for the broker before carrying on (it keeps reconnecting). */
  connectWaitMs?: number;
}

interface Pending {
  cabinetId: string;
  command: Command["type"];
  resolve: (event: DeviceEvent) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** How many timed-out request ids are remembered to recognise their late answers. */
const REMEMBERED_TIMEOUTS = 10_000;

/**
 * How long the PUBACK a poll's report is owed (and whatever else is written meanwhile) waits to
 * leave in one socket write with the next ones. Polls go out together (one tick of the polling
 * schedule), so their reports come back together: written one by one, each report's PUBACK is a
 * socket write.
 */
const POLL_WRITE_BATCH_MS = 50;

/**
 * At most this many PUBACKs are held: a broker stops sending QoS 1 messages to a client with as
 * many unacknowledged (Mosquitto's max_inflight_messages, 20 by default), and an unlock's answer
 * must not wait behind held acks.
 */
const PUBACKS_HELD_MAX = 10;

export class CabinetGateway implements CabinetDevices {
  readonly #client: MqttClient;
  readonly #options: CabinetGatewayOptions;
  readonly #prefix: string;
  readonly #pending = new Map<string, Pending>();
  readonly #timedOut = new Map<string, string>();
  readonly #listeners = new Set<(e: UnsolicitedEvent) => void>();
  readonly #metrics: ReturnType<typeof gatewayMetrics>;
  readonly #logLimiter = new Map<string, { until: number; suppressed: number }>();
  /** Why the last connection attempt failed; cleared once connected. */
  #connectError: string | undefined;
  /** The socket held back while the PUBACKs of poll reports gather (see POLL_WRITE_BATCH_MS), until `timer` or an unlock flushes it. */
  #batching: { stream: Writable; held: number; timer: NodeJS.Timeout } | undefined;

  private constructor(client: MqttClient, options: CabinetGatewayOptions) {
    this.#client = client;
    this.#options = options;
    this.#prefix = options.prefix ?? "";
    this.#metrics = gatewayMetrics(options.registry);
    client.on("connect", () => {
      // Nagle's algorithm turns each small request/reply into a ~40 ms wait.
      (client.stream as Socket | undefined)?.setNoDelay?.(true);
      this.#connectError = undefined;
      options.logger.info("mqtt connected", { url: redact(options.url) });
    });
    client.on("offline", () => options.logger.warn("mqtt offline; reconnecting", { url: redact(options.url) }));
    client.on("error", (error) => {
      const why = describeConnectError(error);
      // A broken certificate or login fails every reconnect the same way: logged once, not each second.
      if (why !== this.#connectError) options.logger.error("mqtt connection failed", { url: redact(options.url), error: why });
      this.#connectError = why;
    });
    client.on("message", (topic, payload) => this.#receive(topic, payload));
  }

  /**
   * Connects (waiting up to `connectWaitMs` for the broker; it keeps retrying after that) and
   * subscribes to every cabinet's events.
   * @example const gateway = await CabinetGateway.connect({ url: "mqtt://127.0.0.1:1883", commandTimeoutMs: 5000, registry, logger })
   */
  static async connect(options: CabinetGatewayOptions): Promise<CabinetGateway> {
    const client = mqtt.connect(options.url, {
      ...mqttConnectionOptions(options.clientId ?? `fleet-cabinets-${randomUUID().slice(0, 8)}`, options.auth),
      // A persistent session: with a stable client id the broker keeps the QoS 1 events that
      // arrive while the service reconnects or restarts, and hands them over when it is back.
      clean: false,
      reconnectPeriod: 1_000,
      connectTimeout: 5_000,
      queueQoSZero: false,
    });
    const gateway = new CabinetGateway(client, options);
    client.subscribe(allEvents(gateway.#prefix), { qos: 1 }, (error) => {
      if (error) options.logger.warn("mqtt subscribe failed", { error: String(error) });
    });
    if (!client.connected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.connectWaitMs ?? 3_000);
        client.once("connect", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return gateway;
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Listens to device events no request was waiting for (closed cells, late answers, own reports). */
  onUnsolicited(listener: (e: UnsolicitedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async inventory(cabinetId: string, options: { timeoutMs?: number } = {}): Promise<InventoryReport> {
    return (await this.#request(cabinetId, { type: "inventory", request_id: randomUUID() }, options.timeoutMs)) as InventoryReport;
  }

  async unlock(
    cabinetId: string,
    requestId: string,
    cells: readonly number[],
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<UnlockResult> {
    const timeoutMs = options.timeoutMs === undefined ? undefined : Math.min(options.timeoutMs, this.#options.commandTimeoutMs);
    return (await this.#request(cabinetId, { type: "unlock", request_id: requestId, cells: [...cells] }, timeoutMs, options.signal)) as UnlockResult;
  }

  /** For /ready and the routes that need the devices: the broker link is up, else MqttUnavailableError saying why. */
  async check(): Promise<void> {
    if (!this.#client.connected) throw this.#unavailable();
  }

  async close(): Promise<void> {
    this.#flushWrites();
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new MqttUnavailableError("the cabinet gateway is closing"));
      this.#pending.delete(id);
    }
    await this.#client.endAsync(true).catch(() => {});
  }

  #request(cabinetId: string, command: Command, timeoutMs = this.#options.commandTimeoutMs, signal?: AbortSignal): Promise<DeviceEvent> {
    if (!this.#client.connected) {
      this.#metrics.commands.inc({ command: command.type, outcome: "unavailable" });
      return Promise.reject(this.#unavailable());
    }
    const existing = this.#pending.get(command.request_id);
    if (existing) {
      // The same attempt asked again (an actor restarted mid-unlock): one wait, one answer.
      return new Promise((resolve, reject) => {
        const first = { resolve: existing.resolve, reject: existing.reject };
        existing.resolve = (e) => {
          first.resolve(e);
          resolve(e);
        };
        existing.reject = (e) => {
          first.reject(e);
          reject(e);
        };
      });
    }
    const started = performance.now();
    return new Promise<DeviceEvent>((resolve, reject) => {
      const settle = (outcome: string) => {
        this.#pending.delete(command.request_id);
        this.#metrics.commands.inc({ command: command.type, outcome });
        this.#metrics.seconds.observe({ command: command.type, outcome }, (performance.now() - started) / 1000);
      };
      const timer = setTimeout(() => {
        settle("timeout");
        this.#rememberTimeout(command.request_id, cabinetId);
        pending.reject(new CabinetNotRespondingError(cabinetId, command.type, timeoutMs));
      }, timeoutMs);
      const pending: Pending = {
        cabinetId,
        command: command.type,
        resolve: (e) => {
          clearTimeout(timer);
          settle("ok");
          resolve(e);
        },
        reject,
        timer,
      };
      this.#pending.set(command.request_id, pending);
      signal?.addEventListener("abort", () => {
        if (this.#pending.get(command.request_id) !== pending) return;
        clearTimeout(timer);
        settle("aborted");
        pending.reject(new CommandAbortedError(cabinetId, command.type));
      });
      // An unlock must reach the device (QoS 1) at once; a lost poll is just a missed poll (QoS 0).
      this.#client.publish(commandsTopic(this.#prefix, cabinetId), JSON.stringify(command), { qos: command.type === "unlock" ? 1 : 0 }, (error) => {
        if (!error || this.#pending.get(command.request_id) !== pending) return;
        clearTimeout(timer);
        settle("unavailable");
        pending.reject(new MqttUnavailableError(`publishing to cabinet ${cabinetId} failed`, { cause: error }));
      });
      if (command.type === "unlock") this.#flushWrites();
    });
  }

  /** Holds the socket's writes back for POLL_WRITE_BATCH_MS, or until PUBACKS_HELD_MAX reports are owed theirs. */
  #holdPuback(): void {
    const stream = this.#client.stream as Writable | undefined;
    if (!stream?.cork) return;
    if (!this.#batching) {
      stream.cork();
      this.#batching = { stream, held: 0, timer: setTimeout(() => this.#flushWrites(), POLL_WRITE_BATCH_MS) };
    }
    if (++this.#batching.held >= PUBACKS_HELD_MAX) this.#flushWrites();
  }

  /** Lets the held-back writes go (mqtt-packet's own cork lets them go at the end of this tick). */
  #flushWrites(): void {
    if (!this.#batching) return;
    clearTimeout(this.#batching.timer);
    this.#batching.stream.uncork();
    this.#batching = undefined;
  }

  #receive(topic: string, payload: Buffer): void {
    const cabinetId = cabinetOfTopic(this.#prefix, topic, "events");
    if (!cabinetId) {
      this.#malformed(topic, { reason: "unknown_type", detail: "not a cabinet events topic" });
      return;
    }
    const event = decodeDeviceEvent(payload);
    if (isMalformed(event)) {
      this.#malformed(topic, event);
      return;
    }
    this.#metrics.messages.inc({ type: event.type });
    const requestId = "request_id" in event ? event.request_id : undefined;
    const pending = requestId === undefined ? undefined : this.#pending.get(requestId);
    if (pending) {
      const expected = pending.command === "inventory" ? "inventory_report" : "unlock_result";
      if (pending.cabinetId !== cabinetId || event.type !== expected) {
        this.#malformed(topic, {
          reason: "invalid_payload",
          detail: `${event.type} from ${cabinetId} does not answer ${pending.command} to ${pending.cabinetId}`,
        });
        return;
      }
      // mqtt.js writes the PUBACK after this listener returns: held back with the others of the tick.
      if (pending.command === "inventory") this.#holdPuback();
      pending.resolve(event);
      return;
    }
    const late = requestId !== undefined && this.#timedOut.get(requestId) === cabinetId;
    if (late) this.#metrics.late.inc({ type: event.type });
    // Another instance's reply (cluster) or an answer to a request forgotten after a restart:
    // handed on like the rest; the listener decides by the cabinet's placement.
    for (const listener of this.#listeners) {
      try {
        listener({ cabinetId, event, late });
      } catch (error) {
        this.#options.logger.error("cabinet event listener failed", { cabinet_id: cabinetId, error: String(error) });
      }
    }
  }

  #unavailable(): MqttUnavailableError {
    return new MqttUnavailableError(`the MQTT broker is not reachable${this.#connectError ? `: ${this.#connectError}` : ""}`);
  }

  #rememberTimeout(requestId: string, cabinetId: string): void {
    this.#timedOut.set(requestId, cabinetId);
    if (this.#timedOut.size > REMEMBERED_TIMEOUTS) this.#timedOut.delete(this.#timedOut.keys().next().value!);
  }

  #malformed(topic: string, m: Malformed): void {
    this.#metrics.malformed.inc({ reason: m.reason });
    // At most one line per reason every 10 s, so a broken device cannot flood the log.
    const now = Date.now();
    const limit = this.#logLimiter.get(m.reason);
    if (limit && now < limit.until) return void limit.suppressed++;
    this.#options.logger.warn("malformed cabinet message ignored", { topic, reason: m.reason, detail: m.detail, suppressed: limit?.suppressed ?? 0 });
    this.#logLimiter.set(m.reason, { until: now + 10_000, suppressed: 0 });
  }
}

function gatewayMetrics(registry: Registry) {
  const registers = [registry];
  const existing = (name: string) => registry.getSingleMetric(name);
  return {
    messages:
      (existing("fleet_cabinet_device_messages_total") as Counter<"type">) ??
      new Counter({ name: "fleet_cabinet_device_messages_total", help: "Well-formed messages from cabinets, by type", labelNames: ["type"], registers }),
    malformed:
      (existing("fleet_cabinet_malformed_messages_total") as Counter<"reason">) ??
      new Counter({
        name: "fleet_cabinet_malformed_messages_total",
        help: "Cabinet messages ignored as malformed or unknown, by reason",
        labelNames: ["reason"],
        registers,
      }),
    commands:
      (existing("fleet_cabinet_commands_total") as Counter<"command" | "outcome">) ??
      new Counter({
        name: "fleet_cabinet_commands_total",
        help: "Commands sent to cabinets by outcome (ok, timeout, unavailable, aborted)",
        labelNames: ["command", "outcome"],
        registers,
      }),
    seconds:
      (existing("fleet_cabinet_command_seconds") as Histogram<"command" | "outcome">) ??
      new Histogram({
        name: "fleet_cabinet_command_seconds",
        help: "Command round trip to a cabinet",
        labelNames: ["command", "outcome"],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
        registers,
      }),
    late:
      (existing("fleet_cabinet_late_replies_total") as Counter<"type">) ??
      new Counter({
        name: "fleet_cabinet_late_replies_total",
        help: "Cabinet answers that arrived after their request timed out",
        labelNames: ["type"],
        registers,
      }),
  };
}

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, "//***@");
