// INSPECT_STATELY_URL: the transitions of the actors hosted here, streamed in Stately's inspector
// protocol (`@statelyai/inspect`'s WebSocket adapter: `@xstate.actor` once per actor with its
// machine definition, then `@xstate.snapshot` per transition), for people who already use
// Stately's tools. Only while the WebSocket is open does this instance listen to its actors;
// reconnects after a loss. Capped per second like the inspector's own feed.
import type { InspectionEvent } from "xstate";
import type { ActorSystem } from "./ActorSystem.ts";
import type { Logger } from "./logger.ts";
import type { Address } from "./protocol.ts";
import { connectWebSocket, type WebSocketConnection } from "./webSocketClient.ts";

/** The `@statelyai/inspect` protocol version these messages follow. */
const PROTOCOL_VERSION = "0.4.0";

export interface StatelyStreamOptions {
  system: ActorSystem;
  url: string;
  logger: Logger;
  /** Transitions sent a second at most; default 100. */
  maxPerSecond?: number;
  /** Wait before reconnecting; default 5 s. */
  reconnectMs?: number;
}

interface ActorRefLike {
  sessionId: string;
  logic?: { config?: unknown };
}

/** A machine definition as Stately reads it: functions become `{ type: <name> }`. */
const definitionOf = (config: unknown): string | undefined => {
  try {
    return JSON.stringify(config, (_key, value) => (typeof value === "function" ? { type: value.name || "inline" } : value));
  } catch {
    return undefined;
  }
};

export class StatelyStream {
  readonly #options: StatelyStreamOptions;
  #ws: WebSocketConnection | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly #announced = new Set<string>();
  #windowStart = 0;
  #inWindow = 0;
  /** Messages sent since start. */
  sent = 0;

  constructor(options: StatelyStreamOptions) {
    this.#options = options;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#ws?.close();
    this.#wake?.();
    await this.#running;
  }

  async #run(): Promise<void> {
    const { url, logger, system } = this.#options;
    let failing = false;
    while (!this.#stopped) {
      try {
        const ws = await connectWebSocket(url);
        this.#ws = ws;
        this.#announced.clear();
        if (failing) logger.info("stately inspector connected", { url });
        failing = false;
        const stop = system.onInspect((address, event) => this.#onTransition(ws, address, event));
        await ws.closed;
        stop();
      } catch (error) {
        if (!failing) logger.warn("stately inspector unreachable; retrying", { url, error: String(error) });
        failing = true;
      }
      this.#ws = undefined;
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, this.#options.reconnectMs ?? 5_000).unref();
      });
    }
  }

  #onTransition(ws: WebSocketConnection, address: Address, event: InspectionEvent): void {
    if (event.type !== "@xstate.snapshot") return;
    const now = Date.now();
    if (now - this.#windowStart >= 1_000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= (this.#options.maxPerSecond ?? 100)) return;
    this.#inWindow++;
    const actor = event.actorRef as unknown as ActorRefLike;
    const raw = event.snapshot as unknown as { status?: string; value?: unknown; context?: unknown; output?: unknown };
    const snapshot = { status: raw.status ?? "active", value: raw.value, context: raw.context, ...(raw.output === undefined ? {} : { output: raw.output }) };
    const base = { sessionId: actor.sessionId, rootId: event.rootId, _version: PROTOCOL_VERSION, createdAt: String(now), id: null };
    if (!this.#announced.has(actor.sessionId)) {
      if (this.#announced.size > 50_000) this.#announced.clear();
      this.#announced.add(actor.sessionId);
      this.#send(ws, { type: "@xstate.actor", name: `${address.type}/${address.id}`, definition: definitionOf(actor.logic?.config), snapshot, ...base });
    }
    const { replyTo: _replyTo, ...received } = event.event as { type: string; replyTo?: string };
    this.#send(ws, { type: "@xstate.snapshot", event: received, snapshot, ...base });
  }

  #send(ws: WebSocketConnection, message: Record<string, unknown>): void {
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch {
      return;
    }
    if (ws.send(text)) this.sent++;
  }
}
