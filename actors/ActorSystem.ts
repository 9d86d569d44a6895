// The actor runtime of one instance: `ask`/`tell` any actor through the transport, host the
// actors placed here, group-commit their snapshots, fire durable timers, relay the outbox.
import { randomUUID } from "node:crypto";
import type { InspectionEvent } from "xstate";
import { Registry } from "prom-client";
import type { Fragment, Sql } from "../storage/database.ts";
import { advanceTimers, loadSnapshot, pruneJournal, type Accepted, type Commit, type OutboxMessage } from "../storage/actorStore.ts";
import type { ActorKind } from "./ActorKind.ts";
import { subjectToken } from "./publicEvent.ts";
import { ActorHost } from "./ActorHost.ts";
import { RESUME_TIMER } from "./ActorCell.ts";
import { GroupCommit } from "./GroupCommit.ts";
import { DurableTimers, timerMessageId } from "./DurableTimers.ts";
import { OutboxRelay } from "./OutboxRelay.ts";
import { systemClock, type Clock } from "./clock.ts";
import { createLogger, type Logger } from "./logger.ts";
import { runtimeMetrics, type RuntimeMetrics } from "./metrics.ts";
import { formatAddress, parseAddress, type Address, type Envelope, type Reply } from "./protocol.ts";
import { AskTimeoutError, StaleActorError, UnavailableError, errorFromReply } from "./errors.ts";
import type { Transport } from "./transport/Transport.ts";

export interface ActorSystemOptions {
  sql: Sql;
  kinds: readonly ActorKind[];
  transport: Transport;
  clock?: Clock;
  logger?: Logger;
  registry?: Registry;
  /** Default ask timeout. */
  askTimeoutMs?: number;
  /** Idle actors are dropped from memory after this long (runtime clock). */
  passivateAfterMs?: number;
  /** Idle actors keep only their persisted snapshot after this long (default 30 s; see ActorCell.sleep). */
  sleepAfterMs?: number;
  /** How long one tick may spend putting idle actors to sleep (default 20 ms; see ActorHost.sleepIdle). */
  sleepSliceMs?: number;
  timerPollMs?: number;
  outboxSweepMs?: number;
  journalRetentionMs?: number;
  /**
   * An actor whose committed state has work in flight (an invoked partner call) is woken this long
   * after entering it if that work was cut off (crash, pause, handover); default 5 s. In a cluster
   * the new owner gets to it once the lease has passed and the timer is due.
   */
  resumeAfterMs?: number;
  /**
   * Cluster placement: the shard of an address, this instance's ownership epoch for it, whether
   * it is hosted here and which shards are (durable timers are fired by the owner only). Absent:
   * embedded.
   */
  placement?: { shardOf(address: Address): number; epochOf(shard: number): number; owns(shard: number): boolean; ownedShards(): number[] };
  /** Public events go to `<eventPrefix>.<type>.<id>`; default `fleet.events`. */
  eventPrefix?: string;
  /** Background loops (timers, outbox sweep, passivation); tests may drive them by hand. */
  background?: boolean;
}

export interface AskOptions {
  timeoutMs?: number;
}

export interface TellOptions {
  /** Keep the same id on redelivery so the receiver drops repeats. */
  messageId?: string;
  timeoutMs?: number;
  /** Aborted: no more attempts (a failed one rejects at once instead of retrying until the timeout). */
  signal?: AbortSignal;
}

type EventLike = { type: string; [field: string]: unknown };

export class ActorSystem {
  readonly host: ActorHost;
  readonly timers: DurableTimers;
  readonly outbox: OutboxRelay;
  readonly metrics: RuntimeMetrics;
  readonly #options: ActorSystemOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #inspectors = new Set<(address: Address, event: InspectionEvent) => void>();
  #loops: NodeJS.Timeout[] = [];

  constructor(options: ActorSystemOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? createLogger();
    this.metrics = runtimeMetrics(options.registry ?? new Registry());
    const kinds = new Map(options.kinds.map((k) => [k.type, k]));
    const groupCommit = new GroupCommit(options.sql, {
      projections: (commits) => (accepted) => projectAll(options.sql, kinds, commits, accepted),
      onBatch: (size, ms) => {
        this.metrics.commitBatch.observe(size);
        this.metrics.commitSeconds.observe(ms / 1000);
      },
    });
    this.outbox = new OutboxRelay(options.sql, (m) => this.#deliverOutbox(m), this.#logger);
    this.host = new ActorHost({
      kinds,
      now: () => this.#clock.now(),
      placementOf: (address) => {
        const shard = options.placement?.shardOf(address) ?? 0;
        return { shard, epoch: options.placement?.epochOf(shard) ?? 0 };
      },
      eventSubject: (a) => `${options.eventPrefix ?? "fleet.events"}.${a.type}.${subjectToken(a.id)}`,
      load: (a) => loadSnapshot(options.sql, a.type, a.id),
      submit: (c, lingerMs) => groupCommit.submit(c, lingerMs),
      dispatch: (messages) => this.outbox.dispatch(messages),
      logger: this.#logger,
      // Nobody inspecting (the usual case): one size check per transition.
      onInspect: (address, event) => {
        if (this.#inspectors.size === 0) return;
        for (const inspector of this.#inspectors) inspector(address, event);
      },
      onCountChange: (type, delta) => this.metrics.actorsActive.inc({ type }, delta),
      onRetired: (type, reason) => this.metrics.actorsRetired.inc({ type, reason }),
      onResumed: (type) => this.metrics.actorsResumed.inc({ type }),
      resumeAfterMs: options.resumeAfterMs ?? 5_000,
      sleepSliceMs: options.sleepSliceMs ?? 20,
    });
    const placement = options.placement;
    this.timers = new DurableTimers(
      options.sql,
      this.#clock,
      () => placement?.ownedShards(),
      placement ? (timer) => placement.owns(placement.shardOf(timer)) : () => true,
      async (timer, signal) => {
        await this.tell({ type: timer.type, id: timer.id }, timer.event, { messageId: timerMessageId(timer), signal }, { key: timer.key, dueAt: timer.dueAt });
        this.metrics.timersFired.inc();
      },
      this.#logger,
    );
    options.transport.serve((envelope) => this.host.receive(envelope));
    if (options.background !== false) this.#startLoops();
    if (!placement) {
      for (const address of singletonsOf(options.kinds)) this.host.wake(address);
      this.#resumeCutOffWork();
    }
  }

  /** The actor kinds this system hosts. */
  get kinds(): readonly ActorKind[] {
    return this.#options.kinds;
  }

  /**
   * This instance acquired `shard`: wakes its cluster singletons and resumes the work in flight
   * that its former owner's crash or handover cut off.
   */
  acquired(shard: number): void {
    const placement = this.#options.placement;
    for (const address of singletonsOf(this.#options.kinds)) if (placement?.shardOf(address) === shard) this.host.wake(address);
    this.#resumeCutOffWork([shard]);
  }

  /**
   * Work in flight that nobody here runs (this host just started or took the shards over) resumes
   * now, whatever its resume timer's due time: its timer fires with the next poll.
   */
  #resumeCutOffWork(shards?: readonly number[]): void {
    advanceTimers(this.#options.sql, RESUME_TIMER, this.#clock.now(), shards).catch((error: unknown) =>
      this.#logger.warn("resume timers not advanced; they fire when due", { shards, error: String(error) }),
    );
  }

  /**
   * Sends `event` to the actor and resolves with its reply, released only after the actor
   * committed the turn. Rejects with a typed error: `AskTimeoutError`, `EventRejectedError`, ...
   * @example const view = await system.ask("mailing/42", { type: "cancel" }, { timeoutMs: 2000 })
   */
  async ask<T = unknown>(address: Address | string, event: EventLike, options: AskOptions = {}): Promise<T> {
    const to = typeof address === "string" ? parseAddress(address) : address;
    const timeoutMs = options.timeoutMs ?? this.#options.askTimeoutMs ?? 5_000;
    const started = performance.now();
    let outcome = "ok";
    try {
      // One id for every attempt: an attempt whose reply was lost on the way is not applied twice.
      return (await this.#deliver(to, event, timeoutMs, randomUUID(), true)) as T;
    } catch (error) {
      outcome = (error as { code?: string }).code ?? "error";
      throw error;
    } finally {
      this.metrics.asks.observe({ type: to.type, outcome }, (performance.now() - started) / 1000);
    }
  }

  /**
   * At-least-once delivery: resolves once the actor committed the turn (or refused the event),
   * retries through handovers until `timeoutMs`.
   */
  async tell(address: Address | string, event: EventLike, options: TellOptions = {}, timer?: Envelope["timer"]): Promise<void> {
    const to = typeof address === "string" ? parseAddress(address) : address;
    const messageId = options.messageId ?? randomUUID();
    try {
      await this.#deliver(to, event, options.timeoutMs ?? 30_000, messageId, false, timer, options.signal);
    } catch (error) {
      if ((error as { code?: string }).code === "event_rejected") return; // the receiver decided
      throw error;
    }
  }

  /** Live inspection events of every actor hosted here (the inspector's feed). */
  onInspect(listener: (address: Address, event: InspectionEvent) => void): () => void {
    this.#inspectors.add(listener);
    return () => this.#inspectors.delete(listener);
  }

  /** Graceful stop: commit what actors hold, then stop the loops. */
  async stop(): Promise<void> {
    this.#stopLoops();
    await this.host.stop();
  }

  /** For tests: lose everything in memory, as a killed process would. */
  crash(): void {
    this.#stopLoops();
    this.host.crash();
  }

  async #deliver(
    to: Address,
    event: EventLike,
    timeoutMs: number,
    messageId: string,
    isAsk: boolean,
    timer?: Envelope["timer"],
    signal?: AbortSignal,
  ): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    const target = formatAddress(to);
    const envelope: Envelope = { to, event, messageId, deadline, ...(isAsk ? { replyTo: messageId } : {}), ...(timer ? { timer } : {}) };
    for (let attempt = 0; ; attempt++) {
      let reply: Reply;
      try {
        reply = await withDeadline(this.#options.transport.send(envelope), deadline, () => new AskTimeoutError(target, timeoutMs));
      } catch (error) {
        if (error instanceof UnavailableError && Date.now() < deadline && !signal?.aborted) {
          await sleep(Math.min(25 * 2 ** attempt, 500));
          continue;
        }
        throw error;
      }
      if (reply.ok) return reply.value;
      const error = errorFromReply(target, reply.code, reply.message, reply.details);
      const retryable = error instanceof StaleActorError || error instanceof UnavailableError;
      if (retryable && Date.now() < deadline && !signal?.aborted) {
        await sleep(Math.min(10 * 2 ** attempt, 500));
        continue;
      }
      throw error;
    }
  }

  async #deliverOutbox(message: OutboxMessage): Promise<void> {
    if (message.kind === "event") await this.#options.transport.publish(message.target, message.payload);
    else await this.tell(message.target, message.payload as EventLike, { messageId: message.messageId });
    this.metrics.outboxDelivered.inc({ kind: message.kind });
  }

  #startLoops(): void {
    this.timers.start(this.#options.timerPollMs ?? 1_000);
    this.outbox.start(this.#options.outboxSweepMs ?? 5_000);
    const passivateAfterMs = this.#options.passivateAfterMs ?? 10 * 60_000;
    const sleepAfterMs = this.#options.sleepAfterMs ?? 30_000;
    this.#loops.push(
      setInterval(() => void this.host.passivateIdle(passivateAfterMs), Math.min(passivateAfterMs, 30_000)),
      setInterval(() => this.host.sleepIdle(sleepAfterMs), Math.min(sleepAfterMs, 30_000)),
      setInterval(() => {
        const before = this.#clock.now() - (this.#options.journalRetentionMs ?? 7 * 86_400_000);
        pruneJournal(this.#options.sql, before).catch((error) => this.#logger.warn("journal prune failed", { error: String(error) }));
      }, 3_600_000),
    );
  }

  #stopLoops(): void {
    this.timers.stop();
    this.outbox.stop();
    for (const loop of this.#loops) clearInterval(loop);
    this.#loops = [];
  }
}

const singletonsOf = (kinds: readonly ActorKind[]): Address[] => kinds.flatMap((k) => (k.singletons ?? []).map((id) => ({ type: k.type, id })));

/**
 * The projection statements of the commits that ask for theirs, kind by kind in name order: the
 * batch's statement text (prepared once per connection) depends on which kinds it holds, not on
 * the order their commits arrived in.
 */
function projectAll(sql: Sql, kinds: ReadonlyMap<string, ActorKind>, commits: readonly Commit[], accepted: (type: string) => Accepted): Fragment[] {
  const byType = new Map<string, Commit[]>();
  for (const c of commits) if (c.project) byType.set(c.type, [...(byType.get(c.type) ?? []), c]);
  return [...byType]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([type, list]) => {
      const project = kinds.get(type)?.project;
      if (!project) return [];
      return project(
        sql,
        list.map((c) => {
          const s = c.snapshot as { value: never; context: unknown };
          return { id: c.id, value: s.value, context: s.context, at: c.at };
        }),
        accepted(type),
      );
    });
}

function withDeadline<T>(promise: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadline - Date.now()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
