// Live inspection across the cluster, costing actors nothing while nobody watches.
//
// Watchers announce interest on `<prefix>.inspect.interest` (refreshed every `ttl/3`, dropped
// when it lapses or the watcher says goodbye). Only while some interest is alive does an instance
// listen to its actors' transitions (`ActorSystem.onInspect`) and publish them on
// `<prefix>.inspect.events.<type>.<id>`, at most `maxPerSecond` a second (the rest are counted,
// and the next record says how many were dropped). With no watcher the per-transition cost is the
// runtime's check of an empty listener set.
//
// Questions to every instance (active actors per kind, a live actor's state) are published on
// `<prefix>.inspect.query` and answered on the asker's own reply subject. Everything goes through
// the `Transport`, so the same code runs in-process (embedded) and over NATS (cluster).
import { randomUUID } from "node:crypto";
import { Counter, type Registry } from "prom-client";
import type { InspectionEvent } from "xstate";
import type { ActorSystem } from "./ActorSystem.ts";
import type { Address } from "./protocol.ts";
import { subjectToken } from "./publicEvent.ts";
import type { Transport } from "./transport/Transport.ts";

/** One transition as the feed carries it. */
export interface InspectionRecord {
  instance: string;
  type: string;
  id: string;
  event: { type: string; [field: string]: unknown };
  state: unknown;
  context: unknown;
  /** Epoch ms when the instance saw it. */
  at: number;
  /** Transitions this instance dropped (over its cap) since its previous record. */
  dropped: number;
}

export interface WatchFilter {
  type?: string | undefined;
  id?: string | undefined;
}

/** What one instance answers to a census. */
export interface CensusAnswer {
  instance: string;
  /** Active actors per kind. */
  active: Record<string, number>;
  /** Whatever the instance adds about itself (its cluster view). */
  about?: unknown;
}

/** What one instance answers to a lookup: the actor's live state if it hosts it. */
export interface LookupAnswer {
  instance: string;
  hosted: boolean;
  state?: unknown;
  context?: unknown;
  version?: number;
}

/** What one instance answers to "which actors of this kind are active here". */
export interface HostedAnswer {
  instance: string;
  /** How many are active. */
  count: number;
  /** The first `limit` of their ids, sorted. */
  ids: string[];
}

type Ask = { ask: "census" } | { ask: "lookup"; type: string; id: string } | { ask: "hosted"; type: string; prefix: string; limit: number };
type Query = Ask & { reply: string };

interface Interest extends WatchFilter {
  watcher: string;
  ttl_ms: number;
}

export interface InspectionOptions {
  system: ActorSystem;
  transport: Transport;
  /** Subject namespace (the cluster's name; `fleet` embedded). */
  prefix: string;
  instanceId: string;
  /** Records this instance publishes a second at most; default 100. */
  maxPerSecond?: number;
  /** How long a watcher's interest lasts without a refresh; default 6 s. */
  interestTtlMs?: number;
  /** Added to census answers (e.g. this member's cluster view). */
  about?: () => unknown;
  /** Where `fleet_inspect_published_total` and `fleet_inspect_dropped_total` are counted. */
  registry?: Registry;
}

export class Inspection {
  readonly #options: InspectionOptions;
  readonly #prefix: string;
  readonly #interests = new Map<string, { filter: WatchFilter; until: number }>();
  readonly #unsubscribes: (() => void)[] = [];
  #stopListening: (() => void) | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #windowStart = 0;
  #inWindow = 0;
  #dropped = 0;
  readonly #metrics: { published: Counter; dropped: Counter };

  constructor(options: InspectionOptions) {
    this.#options = options;
    this.#prefix = `${options.prefix}.inspect`;
    const registers = options.registry ? [options.registry] : [];
    this.#metrics = {
      published: new Counter({ name: "fleet_inspect_published_total", help: "Transitions published for inspector watchers", registers }),
      dropped: new Counter({ name: "fleet_inspect_dropped_total", help: "Transitions over the inspection cap, not published", registers }),
    };
    const { transport } = options;
    this.#unsubscribes.push(
      transport.subscribe(`${this.#prefix}.interest`, (_subject, payload) => this.#onInterest(payload as Interest)),
      transport.subscribe(`${this.#prefix}.query`, (_subject, payload) => this.#onQuery(payload as Query)),
    );
  }

  /** True while some watcher anywhere is interested: this instance publishes its transitions. */
  get watched(): boolean {
    return this.#stopListening !== undefined;
  }

  /**
   * Watches transitions of actors on every instance matching `filter`, until the returned stop.
   * @example const stop = inspection.watch({ type: "cabinet" }, (record) => send(record))
   */
  watch(filter: WatchFilter, onRecord: (record: InspectionRecord) => void): () => void {
    const watcher = randomUUID();
    const ttl = this.#options.interestTtlMs ?? 6_000;
    const subject = `${this.#prefix}.events.${filter.type ? subjectToken(filter.type) : "*"}.${filter.id ? subjectToken(filter.id) : "*"}`;
    const unsubscribe = this.#options.transport.subscribe(subject, (_s, payload) => {
      const record = payload as InspectionRecord;
      if ((filter.type === undefined || record.type === filter.type) && (filter.id === undefined || record.id === filter.id)) onRecord(record);
    });
    const announce = (ttlMs: number) =>
      void this.#options.transport
        .publish(`${this.#prefix}.interest`, { watcher, ttl_ms: ttlMs, ...(filter.type ? { type: filter.type } : {}), ...(filter.id ? { id: filter.id } : {}) })
        .catch(() => {});
    announce(ttl);
    const refresh = setInterval(() => announce(ttl), Math.max(100, Math.floor(ttl / 3)));
    refresh.unref();
    return () => {
      clearInterval(refresh);
      unsubscribe();
      announce(0);
    };
  }

  /** Active actors per kind on every instance that answers within `waitMs` (or once `expected` did), by instance. */
  async census(expected: number, waitMs = 500): Promise<CensusAnswer[]> {
    const answers = await this.#gather<CensusAnswer>({ ask: "census" }, expected, waitMs);
    return answers.sort((a, b) => a.instance.localeCompare(b.instance));
  }

  /** Every instance's answer whether it hosts `address` live, with its state if so. */
  async lookup(address: Address, expected: number, waitMs = 500): Promise<LookupAnswer | undefined> {
    const answers = await this.#gather<LookupAnswer>({ ask: "lookup", type: address.type, id: address.id }, expected, waitMs, (a) => a.hosted);
    return answers.find((a) => a.hosted);
  }

  /** Every instance's active actors of `type` whose id starts with `prefix` (the first `limit` ids of each). */
  hosted(type: string, prefix: string, limit: number, expected: number, waitMs = 500): Promise<HostedAnswer[]> {
    return this.#gather<HostedAnswer>({ ask: "hosted", type, prefix, limit }, expected, waitMs);
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribes.splice(0)) unsubscribe();
    this.#interests.clear();
    this.#update();
  }

  #gather<T>(query: Ask, expected: number, waitMs: number, enough?: (answer: T) => boolean): Promise<T[]> {
    const reply = `${this.#prefix}.reply.${randomUUID()}`;
    const answers: T[] = [];
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        resolve(answers);
      };
      const timer = setTimeout(finish, waitMs);
      const unsubscribe = this.#options.transport.subscribe(reply, (_s, payload) => {
        answers.push(payload as T);
        if (answers.length >= expected || enough?.(payload as T)) finish();
      });
      this.#options.transport.publish(`${this.#prefix}.query`, { ...query, reply }).catch(finish);
    });
  }

  #onQuery(query: Query): void {
    if (typeof query?.reply !== "string" || !query.reply.startsWith(`${this.#prefix}.reply.`)) return;
    const { system, instanceId, transport } = this.#options;
    let answer: CensusAnswer | LookupAnswer | HostedAnswer;
    if (query.ask === "census") {
      const active: Record<string, number> = {};
      for (const cell of system.host.hosted()) if (cell.state === "active") active[cell.address.type] = (active[cell.address.type] ?? 0) + 1;
      const about = this.#options.about?.();
      answer = { instance: instanceId, active, ...(about === undefined ? {} : { about }) };
    } else if (query.ask === "lookup") {
      const cell = system.host.hosted().find((c) => c.state === "active" && c.address.type === query.type && c.address.id === query.id);
      const snapshot = cell?.snapshot();
      answer = snapshot
        ? { instance: instanceId, hosted: true, state: snapshot.value, context: snapshot.context, version: snapshot.version }
        : { instance: instanceId, hosted: false };
    } else if (query.ask === "hosted") {
      const ids = system.host
        .hosted()
        .filter((c) => c.state === "active" && c.address.type === query.type && c.address.id.startsWith(String(query.prefix ?? "")))
        .map((c) => c.address.id);
      answer = { instance: instanceId, count: ids.length, ids: ids.sort().slice(0, Math.max(0, Math.min(Number(query.limit) || 0, 1000))) };
    } else return;
    transport.publish(query.reply, answer).catch(() => {});
  }

  #onInterest(interest: Interest): void {
    if (typeof interest?.watcher !== "string") return;
    if (!(interest.ttl_ms > 0)) this.#interests.delete(interest.watcher);
    else this.#interests.set(interest.watcher, { filter: { type: interest.type, id: interest.id }, until: Date.now() + interest.ttl_ms });
    this.#update();
  }

  /** Listens to the runtime while some interest lives; stops (and stops sweeping) once none does. */
  #update(): void {
    const now = Date.now();
    for (const [watcher, interest] of this.#interests) if (interest.until <= now) this.#interests.delete(watcher);
    if (this.#interests.size > 0 && !this.#stopListening) {
      this.#stopListening = this.#options.system.onInspect((address, event) => this.#onTransition(address, event));
      this.#sweep = setInterval(() => this.#update(), 1_000);
      this.#sweep.unref();
    } else if (this.#interests.size === 0 && this.#stopListening) {
      this.#stopListening();
      this.#stopListening = undefined;
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  #onTransition(address: Address, event: InspectionEvent): void {
    if (event.type !== "@xstate.snapshot") return;
    let wanted = false;
    for (const { filter } of this.#interests.values())
      if ((filter.type === undefined || filter.type === address.type) && (filter.id === undefined || filter.id === address.id)) {
        wanted = true;
        break;
      }
    if (!wanted) return;
    const now = Date.now();
    if (now - this.#windowStart >= 1_000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= (this.#options.maxPerSecond ?? 100)) {
      this.#dropped++;
      this.#metrics.dropped.inc();
      return;
    }
    this.#inWindow++;
    const snapshot = event.snapshot as unknown as { value: unknown; context: unknown };
    const { replyTo: _replyTo, ...received } = event.event as { type: string; replyTo?: string };
    const record: InspectionRecord = {
      instance: this.#options.instanceId,
      type: address.type,
      id: address.id,
      event: received,
      state: snapshot.value,
      context: snapshot.context,
      at: now,
      dropped: this.#dropped,
    };
    this.#dropped = 0;
    this.#metrics.published.inc();
    this.#options.transport.publish(`${this.#prefix}.events.${subjectToken(address.type)}.${subjectToken(address.id)}`, record).catch(() => {});
  }
}
