// How an actor kind is declared to the runtime: its machine, version, migration and projections.
import type { Schema } from "effect";
import type { AnyStateMachine, StateValue } from "xstate";
import type { Accepted } from "../storage/actorStore.ts";
import type { Fragment, Queryable } from "../storage/database.ts";

/** A few fields of an actor's state, compared field by field to tell whether that part changed. */
export type StatePart = readonly (string | number | boolean | null)[];

export interface ProjectedActor<Context = unknown> {
  id: string;
  value: StateValue;
  context: Context;
  /** Runtime time of the commit (epoch ms). */
  at: number;
}

/**
 * `Context` is the machine's context: the kind's functions read it typed. Its functions are
 * declared as methods so that a kind of any context fits where the runtime takes `ActorKind`.
 */
export interface ActorKind<Context = unknown> {
  /** The address type, e.g. `mailing`. */
  readonly type: string;
  /** The machine with its effects provided; receives `{ id }` as input. */
  readonly machine: AnyStateMachine;
  /** Bump when the persisted snapshot shape changes, and teach `migrate` the old shape. */
  readonly version: number;
  /** Turns a persisted snapshot written by an older machine version `from` into the current shape (a newer one is never passed: see ActorCell.activate). */
  // biome-ignore lint/suspicious/noExplicitAny: a snapshot of an older machine version has, by definition, no type of today's code.
  migrate?(snapshot: any, from: number): any;
  /**
   * Query projections, written by the very statement that commits the snapshots they follow (see
   * `Projections` in storage/actorStore.ts): the statements writing the rows of `actors`, built
   * with `sql` and not run; each writes only the rows of actors `accepted` admits.
   */
  project?(sql: Queryable, actors: readonly ProjectedActor<Context>[], accepted: Accepted): readonly Fragment[];
  /**
   * The part of the state `project` reads. With it, a commit whose part equals the last committed
   * one's skips the projection; without it, every commit is projected.
   */
  projected?(actor: { value: StateValue; context: Context }): StatePart;
  /**
   * Message ids remembered to drop redeliveries (default 512), stored with every snapshot. A kind
   * whose events are idempotent by themselves can keep fewer and write smaller rows.
   */
  readonly rememberedIds?: number;
  /**
   * A turn that starts work (an invocation) holds its commit up to this long for the work to end,
   * so the start and the outcome land in one commit, without a resume timer set and cancelled
   * around them. Acks of the held turns wait with it (never an ask's reply: asks commit at once);
   * work still running then is committed in flight as usual. Absent: commit at once. For work
   * that mostly ends within milliseconds (a partner call) on a path whose acks may wait that long.
   */
  readonly commitAfterWorkMs?: number;
  /**
   * A commit of this kind may wait this long for others to share its round trip (group commit);
   * absent: it leaves on the next tick. Only commits of tells wait (their acks with them): an
   * ask's commit always leaves on the next tick.
   */
  readonly commitLingerMs?: number;
  /**
   * Fields of the public event published on `fleet.events.<type>.<id>` at every state change (or
   * as `published` says); kinds without it publish nothing. Never personal data.
   */
  publicEvent?(actor: ProjectedActor<Context>): Record<string, unknown>;
  /**
   * What outside services care about. With it, the public event goes out when this part changes
   * (also without a state change) and not when only the state moves (a kind passing through an
   * internal state on every turn); without it, at every change of the state value.
   */
  published?(actor: { value: StateValue; context: Context }): StatePart;
  /**
   * What the journal keeps of an event (its `type` stays); without it, the whole event. The
   * journal outlives the snapshot's reasons to hold personal data, so a kind whose events carry
   * some (a partner's id of a person, a text written to people) keeps a hash or nothing of it.
   */
  journaled?(event: JournaledEvent): JournaledEvent;
  /**
   * Cluster singletons of this kind (pollers, importers): ids that always run on exactly one
   * instance, woken where their shard lives and never passivated.
   */
  readonly singletons?: readonly string[];
  /**
   * Schemas of the events callers send, each with its `type` literal (the runtime adds `at` and
   * `replyTo`). The inspector's "what if" validates and builds its forms with them.
   */
  readonly events?: readonly Schema.Codec<{ readonly type: string }, unknown, never, never>[];
}

/** An event as the journal stores it. */
export type JournaledEvent = { readonly type: string } & Readonly<Record<string, unknown>>;

export function defineActorKind<Context>(kind: ActorKind<Context>): ActorKind<Context> {
  return kind;
}

/** The top-level state: `sending` for `{ sending: "waiting" }`. */
export const topState = (value: StateValue): string => (typeof value === "string" ? value : Object.keys(value)[0]!);

/** Two state values name the same (possibly parallel, nested) state. */
export function sameState(a: StateValue | null | undefined, b: StateValue | null | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || typeof a === "string" || typeof b === "string") return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => k in b && sameState(a[k] as StateValue, b[k] as StateValue));
}

/** A state value as one readable string: `sending.waiting`. */
export function stateName(value: StateValue): string {
  if (typeof value === "string") return value;
  return Object.entries(value)
    .map(([k, v]) => (v && (typeof v === "string" || Object.keys(v).length) ? `${k}.${stateName(v)}` : k))
    .join(",");
}
