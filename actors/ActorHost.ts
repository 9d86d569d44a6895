// Hosts this instance's actors: activates them on their first message, routes envelopes to
// them, holds the reply routes of open asks, and passivates the idle ones.
import type { InspectionEvent } from "xstate";
import type { ActorKind } from "./ActorKind.ts";
import { ActorCell, type CellHost, type RetireReason } from "./ActorCell.ts";
import type { Address, Envelope, Reply } from "./protocol.ts";
import { formatAddress } from "./protocol.ts";
import { UnknownActorKindError } from "./errors.ts";
import type { Commit, OutboxMessage, StoredSnapshot } from "../storage/actorStore.ts";
import type { Logger } from "./logger.ts";

export interface HostDeps {
  kinds: ReadonlyMap<string, ActorKind>;
  now(): number;
  placementOf(address: Address): { shard: number; epoch: number };
  eventSubject(address: Address): string;
  load(address: Address): Promise<StoredSnapshot | undefined>;
  submit(commit: Commit, lingerMs?: number): Promise<boolean>;
  dispatch(messages: readonly OutboxMessage[]): void;
  logger: Logger;
  onInspect?(address: Address, event: InspectionEvent): void;
  onCountChange?(type: string, delta: number): void;
  onRetired?(type: string, reason: RetireReason): void;
  onResumed?(type: string): void;
  /** See `CellHost.resumeAfterMs`. */
  resumeAfterMs: number;
  /** How long one tick of `sleepIdle` may put actors to sleep. */
  sleepSliceMs: number;
}

interface ReplyRoute {
  respond: (reply: Reply) => void;
  timer: NodeJS.Timeout;
}

export class ActorHost {
  readonly #cells = new Map<string, ActorCell>();
  readonly #routes = new Map<string, ReplyRoute>();
  readonly #cellHost: CellHost;
  #accepting = true;

  constructor(private readonly deps: HostDeps) {
    this.#cellHost = {
      now: deps.now,
      placementOf: deps.placementOf,
      eventSubject: deps.eventSubject,
      load: deps.load,
      submit: deps.submit,
      dispatch: deps.dispatch,
      release: (replyTo, reply) => this.#release(replyTo, reply),
      inspect: (address, event) => deps.onInspect?.(address, event),
      retired: (cell, reason) => {
        deps.onRetired?.(cell.address.type, reason);
        if (this.#cells.get(cell.key) === cell) {
          this.#cells.delete(cell.key);
          deps.onCountChange?.(cell.address.type, -1);
        }
      },
      log: (level, msg, fields) => deps.logger[level](msg, fields),
      resumed: (cell, work) => {
        deps.onResumed?.(cell.address.type);
        deps.logger.info("actor loaded with work in flight; resuming it", { actor: cell.key, work });
      },
      resumeAfterMs: deps.resumeAfterMs,
    };
  }

  /** Accepts an envelope for an actor hosted here; resolves with the reply (asks) or the ack (tells). */
  receive(envelope: Envelope): Promise<Reply> {
    return new Promise((resolve) => {
      if (!this.#accepting) {
        resolve({ ok: false, code: "actor_unavailable", message: "instance is stopping" });
        return;
      }
      const kind = this.deps.kinds.get(envelope.to.type);
      if (!kind) {
        const error = new UnknownActorKindError(envelope.to.type);
        resolve({ ok: false, code: error.code, message: error.message });
        return;
      }
      if (envelope.replyTo) {
        const replyTo = envelope.replyTo;
        // A retry of an ask keeps its id: the attempt it replaces has no caller any more.
        this.#release(replyTo, { ok: false, code: "actor_unavailable", message: "superseded by a retry of the same ask" });
        const wait = Math.max(0, envelope.deadline - Date.now());
        const route = { respond: resolve, timer: setTimeout(() => this.#routes.get(replyTo) === route && this.#routes.delete(replyTo), wait + 1000) };
        this.#routes.set(replyTo, route);
      }
      // An ask is answered through its reply route (possibly in a later turn); a tell by its ack.
      const respond = envelope.replyTo ? (reply: Reply) => this.#release(envelope.replyTo!, reply) : resolve;
      this.#cell(envelope.to, kind).deliver(envelope, respond);
    });
  }

  hosted(): ActorCell[] {
    return [...this.#cells.values()];
  }

  /** Stops actors idle for longer than `idleMs`; their next message reactivates them. */
  async passivateIdle(idleMs: number): Promise<number> {
    const now = this.deps.now();
    const idle = this.hosted().filter(
      (c) => c.isIdle() && now - c.lastActive >= idleMs && !this.deps.kinds.get(c.address.type)?.singletons?.includes(c.address.id),
    );
    await Promise.all(idle.map((c) => c.retire("passivated", { flush: false })));
    return idle.length;
  }

  /**
   * Puts actors idle for longer than `idleMs` to sleep (see `ActorCell.sleep`); returns how many it
   * put to sleep now. A sleep costs tens of µs (up to ~0.2 ms for a big snapshot) and tens of
   * thousands may go idle together, so after `sleepSliceMs` of it the rest sleep in later ticks,
   * letting the messages waiting meanwhile through.
   */
  sleepIdle(idleMs: number): number {
    const started = performance.now();
    const now = this.deps.now();
    let slept = 0;
    for (const cell of this.#cells.values()) {
      if (now - cell.lastActive < idleMs || !cell.sleep()) continue;
      slept++;
      if (performance.now() - started >= this.deps.sleepSliceMs) {
        setImmediate(() => this.#accepting && this.sleepIdle(idleMs));
        break;
      }
    }
    return slept;
  }

  /** Activates an actor without a message (cluster singletons: pollers, importers). */
  wake(address: Address): void {
    const kind = this.deps.kinds.get(address.type);
    if (!kind) throw new UnknownActorKindError(address.type);
    this.#cell(address, kind);
  }

  /** Drops actors matching `filter` without committing: their shard now belongs to another. */
  drop(filter: (address: Address) => boolean): void {
    for (const cell of this.hosted().filter((c) => filter(c.address))) void cell.retire("stopped", { flush: false });
  }

  /** Stops actors matching `filter` after committing what they hold (shard handover, shutdown). */
  async release(filter: (address: Address) => boolean): Promise<void> {
    await Promise.all(
      this.hosted()
        .filter((c) => filter(c.address))
        .map((c) => c.retire("stopped", { flush: true })),
    );
  }

  /** Graceful stop: refuse new envelopes, commit everything pending, stop every actor. */
  async stop(): Promise<void> {
    this.#accepting = false;
    await this.release(() => true);
    this.#clearRoutes();
  }

  /** Simulated crash for tests: drop everything in memory without committing. */
  crash(): void {
    this.#accepting = false;
    for (const cell of this.hosted()) void cell.retire("stopped", { flush: false });
    this.#clearRoutes();
  }

  #cell(address: Address, kind: ActorKind): ActorCell {
    const key = formatAddress(address);
    let cell = this.#cells.get(key);
    if (!cell) {
      cell = new ActorCell(address, kind, this.#cellHost);
      this.#cells.set(key, cell);
      this.deps.onCountChange?.(address.type, 1);
      void cell.activate();
    }
    return cell;
  }

  #release(replyTo: string, reply: Reply): void {
    const route = this.#routes.get(replyTo);
    if (!route) return; // the caller gave up (timeout) or asked another instance
    this.#routes.delete(replyTo);
    clearTimeout(route.timer);
    route.respond(reply);
  }

  #clearRoutes(): void {
    for (const route of this.#routes.values()) clearTimeout(route.timer);
    this.#routes.clear();
  }
}
