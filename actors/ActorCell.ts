// One hosted actor: activation from its snapshot, its turns, and the commit that must land
// before any reply, ack, timer or outbox message of those turns is released.
import { createActor, type AnyActor, type AnyEventObject, type AnyStateMachine, type InspectionEvent, type StateValue } from "xstate";
import { randomUUID } from "node:crypto";
import { sameState, stateName, topState, type ActorKind, type JournaledEvent, type StatePart } from "./ActorKind.ts";
import type { Address, Effect, Envelope, Reply } from "./protocol.ts";
import { formatAddress } from "./protocol.ts";
import { fromDormant, toDormant } from "./dormantForm.ts";
import { ActorFailedError, CommitRejectedError, EventRejectedError, StaleActorError } from "./errors.ts";
import { isPermanentWriteError } from "../storage/database.ts";
import type { Commit, JournalEntry, OutboxMessage, StoredSnapshot, TimerWrite } from "../storage/actorStore.ts";

/** What a cell needs from its host. */
export interface CellHost {
  now(): number;
  /** Where the address lives in the cluster: its shard and this instance's epoch for it. */
  placementOf(address: Address): { shard: number; epoch: number };
  /** Subject of the public event of an address, `fleet.events.<type>.<id>`. */
  eventSubject(address: Address): string;
  load(address: Address): Promise<StoredSnapshot | undefined>;
  /** `lingerMs`: how long the commit may wait for others to share its round trip. */
  submit(commit: Commit, lingerMs?: number): Promise<boolean>;
  /** Deliver a committed reply to whoever asked (the route may be on another instance). */
  release(replyTo: string, reply: Reply): void;
  /** Hand committed outbox messages to the relay. */
  dispatch(messages: readonly OutboxMessage[]): void;
  inspect(address: Address, event: InspectionEvent): void;
  retired(cell: ActorCell, reason: RetireReason): void;
  /** The actor was loaded with work in flight (an invocation a crash or handover cut off) and restarts it. */
  resumed(cell: ActorCell, work: readonly string[]): void;
  /** How long after entering a state with work in flight its resume timer is due. */
  readonly resumeAfterMs: number;
  log(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
}

type Respond = (reply: Reply) => void;

/** Why a cell left memory; `rejected`: the database refused its commit (see CommitRejectedError). */
export type RetireReason = "stale" | "failed" | "rejected" | "passivated" | "stopped";

interface Turns {
  journal: JournalEntry[];
  outbox: OutboxMessage[];
  timersSet: Map<string, TimerWrite>;
  timersCancelled: Set<string>;
  timersFired: { key: string; dueAt: number }[];
  replies: { replyTo: string; reply: Reply }[];
  /** Asks of these turns not yet answered or deferred: they get the state view after commit. */
  asks: Set<string>;
  acks: Respond[];
  messageIds: string[];
}

const noTurns = (): Turns => ({
  journal: [],
  outbox: [],
  timersSet: new Map(),
  timersCancelled: new Set(),
  timersFired: [],
  replies: [],
  asks: new Set(),
  acks: [],
  messageIds: [],
});

/** Pending work someone waits for or that must land; a journal-only init turn is not. */
const hasObligations = (t: Turns | undefined) =>
  t !== undefined &&
  t.outbox.length + t.timersSet.size + t.timersCancelled.size + t.timersFired.length + t.replies.length + t.asks.size + t.acks.length + t.messageIds.length > 0;
const isEmpty = (t: Turns | undefined) => t === undefined || (t.journal.length === 0 && !hasObligations(t));

/** The part of a snapshot a kind names (`projected`, `published`); undefined when it names none. */
function partOf(
  part: ((actor: { value: StateValue; context: unknown }) => StatePart) | undefined,
  snapshot: { value: unknown; context: unknown },
): StatePart | undefined {
  return part?.(snapshot as { value: StateValue; context: unknown });
}

const samePart = (a: StatePart | undefined, b: StatePart | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]));

/** How many recent message ids an actor remembers to drop redeliveries, unless its kind says otherwise. */
const REMEMBERED_IDS = 512;
/**
 * A commit appends its message ids to the stored ones; once this many (or the window's size) have
 * been appended, the next commit rewrites the stored window instead, which keeps the row bounded
 * while a commit carries a few ids rather than the whole window (512 UUIDs, ~20 KB).
 */
const APPENDED_IDS_BEFORE_REWRITE = 32;
/** Replies of this many recent asks are kept (in memory) for retries of the same ask. */
const REMEMBERED_REPLIES = 16;
const RETRY_COMMIT_MS = [50, 200, 500, 1000, 2000];

/**
 * The durable timer that wakes an actor whose committed state has work in flight (an invoked
 * promise), wherever its shard lives by then: the commit entering such a state sets it, the one
 * leaving it cancels it. Loading the snapshot restarts the invocation; the timer's own event is
 * one no machine accepts, so it is consumed (and set again while the work goes on). A host that
 * starts or takes a shard over makes these timers due at once (see ActorSystem), so the due time
 * only matters to a cell that failed on a live host: while the work goes on it is set again
 * further out each time (doubling, up to RESUME_GROWTH_MAX times the first delay), so long work
 * (a call waiting its turn at a partner's rate limit) costs a few commits, not one per delay.
 */
export const RESUME_TIMER = "fleet.resume";
const RESUME_GROWTH_MAX = 64;

/** The invocations in flight in a persisted snapshot, by source name. */
function workInFlight(snapshot: unknown): string[] {
  const children = (snapshot as { children?: Record<string, { src?: unknown }> } | undefined)?.children ?? {};
  return Object.values(children).map((c) => String(c.src ?? "actor"));
}

export class ActorCell {
  readonly key: string;
  state: "activating" | "active" | "retired" = "activating";
  lastActive: number;

  #actor: AnyActor | undefined;
  /**
   * A dormant actor: one idle for a while keeps only this instead of its live XState actor and
   * system (~4-6 KB each), its snapshot's object graph and its remembered ids, and is brought back
   * on its next message (see `sleep`).
   */
  #dormant: string | undefined;
  #version = 0;
  #seq = 0;
  #processed: string[] = [];
  #processedSet = new Set<string>();
  /** How many ids the stored row has appended since its window was last rewritten. */
  #appendedIds = 0;
  /**
   * What the turns since the last commit produced; created by the first of them, so that the tens
   * of thousands of idle actors an instance hosts hold no empty collections (they would outlive
   * young-generation collections and cost the GC more than their size suggests).
   */
  #turns: Turns | undefined;
  #committing: Promise<void> | undefined;
  #waiting: { envelope: Envelope; respond: Respond }[] = [];
  #lastValue: unknown;
  #restoring = false;
  /** Message ids of the commit being written right now. */
  #inFlightIds: readonly string[] = [];
  /** What the projections last saw of this actor (see `ActorKind.projected`). */
  #projected: StatePart | undefined;
  /** What the last public event said, for kinds that publish on change (see `ActorKind.published`). */
  #published: StatePart | undefined;
  /** Committed replies of the latest asks by reply id; created by the first. */
  #answered: Map<string, Reply> | undefined;
  /** The latest deadline of the asks delivered here: after it, no caller retries one (see `sleep`). */
  #asksWaitUntil = 0;
  /** Why the database refused the last rejected commit. */
  #rejection: unknown;
  /** The last committed snapshot has work in flight, so its resume timer is set. */
  #working = false;
  /** How far out the resume timer was last set (see RESUME_TIMER). */
  #resumeInMs = 0;
  /** The event of the step the machine just took, until `#onStep` journals it; none at the start. */
  #stepEvent: AnyEventObject | undefined;
  /** Resolves the commit loop's wait for the work these turns started (see `ActorKind.commitAfterWorkMs`). */
  #workEnded: (() => void) | undefined;

  constructor(
    readonly address: Address,
    private readonly kind: ActorKind,
    private readonly host: CellHost,
  ) {
    this.key = formatAddress(address);
    this.lastActive = host.now();
  }

  /** Loads the snapshot (migrating an older machine version, refusing a newer one) and starts the machine. */
  async activate(): Promise<void> {
    try {
      const stored = await this.host.load(this.address);
      if (this.state === "retired") return;
      let snapshot = stored?.snapshot;
      if (stored && stored.machineVersion > this.kind.version) {
        // Mid rolling upgrade: running it here would write a newer shape back under an older
        // version. Its callers are refused retryably until an upgraded instance serves it.
        throw new Error(`${this.key}: stored by machine version ${stored.machineVersion}, newer than this instance's ${this.kind.version}`);
      }
      if (stored && stored.machineVersion < this.kind.version) {
        if (!this.kind.migrate) throw new Error(`${this.key}: no migration from machine version ${stored.machineVersion}`);
        snapshot = this.kind.migrate(snapshot, stored.machineVersion);
      }
      this.#version = stored?.version ?? 0;
      this.#seq = stored?.seq ?? 0;
      this.#remember(stored?.processedIds ?? []);
      this.#appendedIds = stored?.appendedIds ?? 0;
      const actor = this.#start(snapshot, (restored) => {
        const work = workInFlight(snapshot);
        this.#working = work.length > 0;
        if (this.#working) this.host.resumed(this, work);
        this.#projected = partOf(this.kind.projected, restored.getSnapshot());
        this.#published = partOf(this.kind.published, restored.getSnapshot());
      });
      this.#lastValue = actor.getSnapshot().value;
      this.state = "active";
    } catch (error) {
      this.host.log("error", "actor activation failed", { actor: this.key, error: String(error) });
      this.#fail(error);
      return;
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) this.deliver(w.envelope, w.respond);
  }

  /**
   * Creates and starts the live actor, from `snapshot` if given (its initial state is then not
   * journalled: it was committed before); `restored` sees it before it starts.
   */
  #start(snapshot: unknown, restored?: (actor: AnyActor) => void): AnyActor {
    this.#restoring = snapshot !== undefined;
    // A sleeping actor's stop went through the machine too: its event is no step of the new one.
    this.#stepEvent = undefined;
    const actor = createActor(this.#recordingSteps(), {
      input: { id: this.address.id },
      ...(snapshot !== undefined ? { snapshot: snapshot as never } : {}),
    });
    this.#actor = actor;
    if (snapshot !== undefined) restored?.(actor);
    actor.on("*", (effect) => this.#onEffect(effect as Effect));
    // Observers hear of each step (a final one too) after its effects ran; a step that threw is
    // none, and its error is read from the snapshot status.
    actor.subscribe({ next: () => this.#onStep(), error: () => {} });
    actor.start();
    this.#restoring = false;
    return actor;
  }

  /** The live actor, brought back from its dormant form if it was put to sleep. */
  #live(): AnyActor | undefined {
    if (this.#dormant !== undefined) {
      const { snapshot, processed } = fromDormant(this.#dormant);
      this.#dormant = undefined;
      this.#remember(processed);
      return this.#start(snapshot);
    }
    return this.#actor;
  }

  /**
   * Keeps only the persisted snapshot of an idle actor and lets its live XState actor go; the
   * next message restores it from that snapshot, as activation does from the stored one. The
   * replies kept for retried asks go too once every asker's deadline has passed: an ask is retried
   * only before it (a cabinet's booking replies were a third of its memory). The snapshot and the
   * remembered ids are kept as their JSON (what activation reads from the database), deflated when
   * large: their object graph and set entries cost several times that (see dormantForm.ts). False
   * when it is busy or asleep already.
   */
  sleep(): boolean {
    if (this.#dormant !== undefined || !this.isIdle()) return false;
    if (Date.now() > this.#asksWaitUntil) this.#answered = undefined;
    const actor = this.#actor!;
    this.#dormant = toDormant(actor.getPersistedSnapshot(), this.#processed);
    this.#processed = [];
    this.#processedSet = new Set();
    // Cleared first: stopping is a transition of its own, which is nobody's turn to journal.
    this.#actor = undefined;
    actor.stop();
    return true;
  }

  /** Holds only its persisted snapshot (see `sleep`). */
  get dormant(): boolean {
    return this.#dormant !== undefined;
  }

  /** One turn: the event is applied now; the reply or ack waits for the commit. */
  deliver(envelope: Envelope, respond: Respond): void {
    this.lastActive = this.host.now();
    if (this.state === "activating") {
      this.#waiting.push({ envelope, respond });
      return;
    }
    const actor = this.state === "retired" ? undefined : this.#live();
    if (!actor) {
      respond({ ok: false, code: "actor_unavailable", message: `${this.key} is not hosted here any more` });
      return;
    }
    if (this.#processedSet.has(envelope.messageId)) {
      // A retried ask whose first reply was lost gets that reply again; after a restart it is gone.
      respond((envelope.replyTo && this.#answered?.get(envelope.replyTo)) || { ok: true, value: { duplicate: true } });
      return;
    }
    if (this.#turns?.messageIds.includes(envelope.messageId) || this.#inFlightIds.includes(envelope.messageId)) {
      // A repeat of a turn not yet committed: ack it with the next commit, never before the first.
      if (envelope.replyTo) respond({ ok: false, code: "actor_unavailable", message: "the first delivery is still being committed" });
      else {
        this.#open().acks.push(respond);
        this.#scheduleCommit();
      }
      return;
    }
    if (envelope.replyTo && Date.now() > envelope.deadline) {
      // Nobody waits for this ask any more and its caller was told "not done": applying it now
      // would make a 504 a lie. (Tells have no caller to disappoint; they are applied.)
      respond({ ok: false, code: "actor_timeout", message: `${this.key} got the ask after its caller's deadline; not applied` });
      return;
    }
    if (envelope.replyTo) this.#asksWaitUntil = Math.max(this.#asksWaitUntil, envelope.deadline);
    const event = { ...envelope.event, at: this.host.now(), ...(envelope.replyTo ? { replyTo: envelope.replyTo } : {}) };
    // A machine in a final state takes no events, even ones its root would accept.
    const current = actor.getSnapshot();
    const wanted = current.status === "active" && current.can(event);
    if (!wanted && !envelope.timer) {
      const rejected = new EventRejectedError(this.key, event.type, actor.getSnapshot().value);
      const reply: Reply = { ok: false, code: rejected.code, message: rejected.message, details: { state: rejected.state, event: event.type } };
      // The refusal names a state that may not be committed yet: it leaves after that commit, so
      // nobody acts on a state a crash could still undo.
      if (this.#committing) void this.flush().then(() => respond(reply));
      else respond(reply);
      return;
    }
    const turns = this.#open();
    if (envelope.timer) turns.timersFired.push(envelope.timer);
    if (!wanted) {
      // A timer the machine no longer wants still has to be consumed, or it would fire forever.
      turns.messageIds.push(envelope.messageId);
      turns.acks.push(respond);
      this.#scheduleCommit();
      return;
    }
    if (envelope.replyTo) {
      turns.asks.add(envelope.replyTo);
      this.#workEnded?.(); // someone waits for this answer: no holding the commit for work
    } else turns.acks.push(respond);
    turns.messageIds.push(envelope.messageId);
    actor.send(event);
    if (actor.getSnapshot().status === "error") {
      this.#fail(actor.getSnapshot().error);
      return;
    }
    this.#scheduleCommit();
  }

  /** Current state and context, for routes that only read. */
  snapshot(): { value: unknown; context: unknown; version: number } | undefined {
    const s = (this.#dormant !== undefined ? fromDormant(this.#dormant).snapshot : this.#actor?.getSnapshot()) as
      | { value: unknown; context: unknown }
      | undefined;
    return s ? { value: s.value, context: s.context, version: this.#version } : undefined;
  }

  /** True when nothing is pending, no commit is running and no invoked work is alive. */
  isIdle(): boolean {
    if (this.#dormant !== undefined) return this.state === "active";
    const children = this.#actor?.getSnapshot().children ?? {};
    return this.state === "active" && !this.#committing && !hasObligations(this.#turns) && Object.keys(children).length === 0;
  }

  /** Waits for every pending turn to be committed. */
  async flush(): Promise<void> {
    while (this.#committing) await this.#committing;
  }

  /** Stops the machine; with `flush`, only after pending turns are committed. */
  async retire(reason: "passivated" | "stopped", options: { flush: boolean }): Promise<void> {
    if (options.flush) await this.flush();
    this.#stop(reason);
  }

  #stop(reason: RetireReason): void {
    if (this.state === "retired") return;
    this.state = "retired";
    this.#actor?.stop();
    for (const w of this.#waiting) w.respond({ ok: false, code: "actor_unavailable", message: `${this.key} stopped` });
    this.#waiting = [];
    this.host.retired(this, reason);
  }

  #fail(error: unknown): void {
    const failure = new ActorFailedError(this.key, error);
    this.host.log("error", "actor failed; it reloads from its last commit", { actor: this.key, error: String(error) });
    this.#refuseTurns({ ok: false, code: failure.code, message: failure.message });
    this.#stop("failed");
  }

  /** Answers everyone waiting on the pending turns (and on `committing`, a commit that did not land) with `reply`. */
  #refuseTurns(reply: Reply, committing?: Turns): void {
    const pending = [committing, this.#turns];
    this.#turns = undefined;
    for (const turns of pending) {
      if (!turns) continue;
      for (const r of turns.replies) this.host.release(r.replyTo, reply);
      for (const replyTo of turns.asks) this.host.release(replyTo, reply);
      for (const ack of turns.acks) ack(reply);
    }
  }

  /**
   * The kind's machine, noting the event of every step it takes for `#onStep`. (XState's inspection
   * tells the same, but builds an event for every action and microstep on the way, which nobody
   * here reads: a counter's increment took 11 µs with it, 6 µs without.)
   */
  #recordingSteps(): AnyStateMachine {
    const machine = this.kind.machine;
    const recording = Object.create(machine) as AnyStateMachine;
    recording.transition = (snapshot, event, scope) => {
      const next = machine.transition(snapshot, event, scope);
      this.#stepEvent = event;
      return next;
    };
    return recording;
  }

  /** One step of the machine (its start first): journalled, shown to inspectors, published if it says so. */
  #onStep(): void {
    const actor = this.#actor!;
    const snapshot = actor.getSnapshot();
    const stepEvent = this.#stepEvent ?? { type: "xstate.init", input: { id: this.address.id } };
    this.#stepEvent = undefined;
    const init = stepEvent.type === "xstate.init";
    if (this.#restoring && init) return;
    const { replyTo: _replyTo, ...received } = stepEvent as JournaledEvent & { replyTo?: string };
    const journalEvent = this.kind.journaled && !init ? this.kind.journaled(received) : received;
    const at = this.host.now();
    this.#open().journal.push({ seq: ++this.#seq, event: journalEvent, fromState: this.#lastValue ?? null, toState: snapshot.value, at });
    this.host.inspect(this.address, { type: "@xstate.snapshot", actorRef: actor, rootId: actor.sessionId, event: stepEvent, snapshot });
    const changed = !sameState(snapshot.value as StateValue, this.#lastValue as StateValue);
    this.#lastValue = snapshot.value;
    let publish = changed;
    if (this.kind.published) {
      const part = partOf(this.kind.published, snapshot);
      publish = !samePart(part, this.#published);
      this.#published = part;
    }
    if (publish && !init && this.kind.publicEvent) {
      const actor = { id: this.address.id, value: snapshot.value as never, context: snapshot.context, at };
      this.#open().outbox.push({
        messageId: randomUUID(),
        kind: "event",
        target: this.host.eventSubject(this.address),
        payload: {
          type: this.address.type,
          id: this.address.id,
          seq: this.#seq,
          state: topState(snapshot.value as StateValue),
          state_path: stateName(snapshot.value as StateValue),
          at: new Date(at).toISOString(),
          ...this.kind.publicEvent(actor),
        },
      });
    }
    // A fresh actor's initial state is journalled with its first real turn, not written alone.
    if (!init) this.#scheduleCommit();
    if (this.#workEnded && workInFlight(snapshot).length === 0) this.#workEnded();
  }

  #onEffect(effect: Effect): void {
    const turns = this.#open();
    switch (effect.type) {
      case "reply":
        if (!effect.replyTo) break;
        turns.asks.delete(effect.replyTo);
        turns.replies.push({ replyTo: effect.replyTo, reply: effect.reply });
        break;
      case "reply.defer":
        if (effect.replyTo) turns.asks.delete(effect.replyTo);
        break;
      case "timer.set":
        turns.timersCancelled.delete(effect.key);
        turns.timersSet.set(effect.key, { key: effect.key, dueAt: this.host.now() + effect.delayMs, event: effect.event });
        break;
      case "timer.cancel":
        turns.timersSet.delete(effect.key);
        turns.timersCancelled.add(effect.key);
        break;
      case "tell":
        turns.outbox.push({ messageId: randomUUID(), kind: "tell", target: effect.to, payload: effect.event });
        break;
    }
  }

  #open(): Turns {
    this.#turns ??= noTurns();
    return this.#turns;
  }

  #scheduleCommit(): void {
    if (this.#committing || this.state === "retired") return;
    this.#committing = this.#commitLoop().finally(() => (this.#committing = undefined));
  }

  async #commitLoop(): Promise<void> {
    await Promise.resolve(); // let the rest of this turn (its effects) join the commit
    while (this.state !== "retired" && !isEmpty(this.#turns)) {
      if (!(await this.#awaitStartedWork())) return;
      const turns = this.#turns!;
      this.#turns = undefined;
      this.#inFlightIds = turns.messageIds;
      const actor = this.#actor!;
      const placement = this.host.placementOf(this.address);
      const projected = partOf(this.kind.projected, actor.getSnapshot());
      const snapshot = actor.getPersistedSnapshot();
      const working = workInFlight(snapshot).length > 0;
      this.#keepResumeTimer(turns, working);
      const rewriteProcessedIds =
        this.#version === 0 || this.#appendedIds + turns.messageIds.length > Math.min(APPENDED_IDS_BEFORE_REWRITE, this.#rememberedIds);
      const commit: Commit = {
        type: this.address.type,
        id: this.address.id,
        shard: placement.shard,
        version: this.#version + 1,
        epoch: placement.epoch,
        machineVersion: this.kind.version,
        seq: this.#seq,
        snapshot,
        processedIds: rewriteProcessedIds ? [...this.#processed, ...turns.messageIds].slice(-this.#rememberedIds) : turns.messageIds,
        rewriteProcessedIds,
        journal: turns.journal,
        outbox: turns.outbox,
        timersSet: [...turns.timersSet.values()],
        timersCancelled: [...turns.timersCancelled],
        timersFired: turns.timersFired,
        at: this.host.now(),
        project: this.kind.project !== undefined && (projected === undefined || !samePart(projected, this.#projected)),
      };
      // Only tells wait for company: a person may be waiting for an ask's reply.
      const lingerMs = turns.asks.size + turns.replies.length === 0 ? (this.kind.commitLingerMs ?? 0) : 0;
      const accepted = await this.#submitWithRetry(commit, lingerMs);
      this.#inFlightIds = [];
      if (accepted === undefined) return;
      if (accepted === "rejected") {
        this.#rollBack(turns, commit);
        return;
      }
      if (!accepted) {
        // Two hosts never both win: the other writer's state is the truth, so reload from it.
        const stale = new StaleActorError(this.key);
        this.#refuseTurns({ ok: false, code: stale.code, message: stale.message }, turns);
        this.#stop("stale");
        return;
      }
      this.#version = commit.version;
      this.#working = working;
      this.#projected = projected;
      this.#remember(turns.messageIds);
      this.#appendedIds = rewriteProcessedIds ? 0 : this.#appendedIds + turns.messageIds.length;
      // Released only now: a crash before the commit would otherwise lose an acknowledged write.
      for (const r of turns.replies) this.#answer(r.replyTo, r.reply);
      if (turns.asks.size) {
        const view = { state: commit.snapshot && (commit.snapshot as { value: unknown }).value, context: (commit.snapshot as { context: unknown }).context };
        for (const replyTo of turns.asks) this.#answer(replyTo, { ok: true, value: view });
      }
      for (const ack of turns.acks) ack({ ok: true, value: undefined });
      if (turns.outbox.length) this.host.dispatch(turns.outbox);
    }
  }

  /**
   * Holds the commit while work these turns started (none was committed in flight) is running, up
   * to the kind's `commitAfterWorkMs`, unless an ask waits: the work's outcome then joins this
   * commit. False when the cell retired meanwhile (nothing to commit then).
   */
  async #awaitStartedWork(): Promise<boolean> {
    const limitMs = this.kind.commitAfterWorkMs;
    const turns = this.#turns;
    if (!limitMs || this.#working || (turns && turns.asks.size + turns.replies.length > 0)) return true;
    if (workInFlight(this.#actor!.getSnapshot()).length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#workEnded = resolve;
      timer = setTimeout(resolve, limitMs);
    });
    clearTimeout(timer);
    this.#workEnded = undefined;
    return this.state !== "retired";
  }

  /**
   * Sets the resume timer when work starts, and again further out when it fired while the work
   * goes on; cancels it when the work is done.
   */
  #keepResumeTimer(turns: Turns, working: boolean): void {
    const first = this.host.resumeAfterMs;
    if (working && (!this.#working || turns.timersFired.some((t) => t.key === RESUME_TIMER))) {
      this.#resumeInMs = this.#working && this.#resumeInMs > 0 ? Math.min(this.#resumeInMs * 2, first * RESUME_GROWTH_MAX) : first;
      turns.timersCancelled.delete(RESUME_TIMER);
      turns.timersSet.set(RESUME_TIMER, { key: RESUME_TIMER, dueAt: this.host.now() + this.#resumeInMs, event: { type: RESUME_TIMER } });
    } else if (!working && this.#working) {
      turns.timersSet.delete(RESUME_TIMER);
      turns.timersCancelled.add(RESUME_TIMER);
    }
  }

  /**
   * The database refused this commit's data: nothing of its turns (nor of turns taken meanwhile)
   * happened. Their askers get the reason once, and the actor reloads from its last commit on its
   * next message, so one poison value never stalls it or the instance's shutdown.
   */
  #rollBack(turns: Turns, commit: Commit): void {
    const rejected = new CommitRejectedError(this.key, this.#rejection);
    this.host.log("error", "snapshot commit refused by the database; turn rolled back", {
      actor: this.key,
      version: commit.version,
      events: turns.journal.map((j) => (j.event as { type?: string })?.type),
      error: String(this.#rejection),
    });
    this.#refuseTurns({ ok: false, code: rejected.code, message: rejected.message }, turns);
    this.#stop("rejected");
  }

  #answer(replyTo: string, reply: Reply): void {
    this.#answered ??= new Map();
    const answered = this.#answered;
    answered.set(replyTo, reply);
    if (answered.size > REMEMBERED_REPLIES) answered.delete(answered.keys().next().value!);
    this.host.release(replyTo, reply);
  }

  get #rememberedIds(): number {
    return this.kind.rememberedIds ?? REMEMBERED_IDS;
  }

  /** Keeps the last `rememberedIds` message ids, in order, with a set for the lookups. */
  #remember(ids: readonly string[]): void {
    for (const id of ids) {
      if (this.#processedSet.has(id)) continue;
      this.#processed.push(id);
      this.#processedSet.add(id);
    }
    while (this.#processed.length > this.#rememberedIds) this.#processedSet.delete(this.#processed.shift()!);
  }

  /**
   * `true` committed, `false` stale, `"rejected"` refused for its data, undefined: retired meanwhile.
   * Not async: the usual first-attempt success passes the submission's own promise through.
   */
  #submitWithRetry(commit: Commit, lingerMs: number, attempt = 0): Promise<boolean | "rejected" | undefined> {
    return this.host.submit(commit, lingerMs).catch(async (error: unknown) => {
      if (this.state === "retired") return undefined;
      if (isPermanentWriteError(error)) {
        this.#rejection = error;
        return "rejected";
      }
      const delay = RETRY_COMMIT_MS[Math.min(attempt, RETRY_COMMIT_MS.length - 1)]!;
      this.host.log("warn", "snapshot commit failed; retrying", { actor: this.key, attempt, error: String(error) });
      await new Promise((r) => setTimeout(r, delay));
      return this.#submitWithRetry(commit, lingerMs, attempt + 1);
    });
  }
}
