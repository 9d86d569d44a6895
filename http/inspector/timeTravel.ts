// The inspector's time travel and "what if", with XState's pure functions only: nothing here
// runs an effect, starts an actor or writes anything.
//
// The journal keeps each transition's event and state values, not contexts (a context may hold
// personal data the journal must not outlive). Contexts of the past are rebuilt by replaying the
// journalled events from the actor's first transition through the kind's machine with
// `transition()`; every replayed state is checked against the journalled one, and the replay stops
// vouching at the first mismatch (a migrated machine, a pruned journal).
import { createActor, initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from "xstate";
import { sameState, type ActorKind } from "../../actors/ActorKind.ts";
import type { JournalEntry } from "../../storage/actorStore.ts";

/** How far a history's contexts can be trusted. */
export type Replay =
  /** Rebuilt from the first transition, every state matched. */
  | "exact"
  /** Rebuilt and matched, but the kind journals its events without some (personal) fields. */
  | "approximate"
  /** Not rebuilt (journal pruned before the actor's start, or a replayed state differed). */
  | "unavailable";

export interface HistoryItem {
  seq: number;
  at: string;
  event: unknown;
  from: unknown;
  to: unknown;
  /** The context right after this transition (null when not rebuilt). */
  context: unknown;
  /** What changed in the context between this transition and the next one. */
  diff_to_next: DiffEntry[] | null;
}

export interface DiffEntry {
  path: string;
  before: unknown;
  after: unknown;
}

/**
 * The transitions in `entries` (ascending seq) with the contexts rebuilt by replay.
 * @example history(kind, "CAB-1", await readJournal(sql, "cabinet", "CAB-1", 5000))
 */
export function history(kind: ActorKind, id: string, entries: readonly JournalEntry[]): { replay: Replay; reason?: string; items: HistoryItem[] } {
  const contexts: unknown[] = [];
  let replay: Replay = kind.journaled ? "approximate" : "exact";
  let reason: string | undefined = kind.journaled ? "the kind journals its events without some fields; contexts rebuilt from what was kept" : undefined;
  const first = entries[0];
  if (first?.seq !== 1 || (first.event as { type?: string }).type !== "xstate.init") {
    replay = "unavailable";
    reason = "the journal does not reach back to the actor's first transition";
  } else {
    try {
      let [snapshot] = initialTransition(kind.machine, { id });
      for (const entry of entries) {
        if (entry !== first) [snapshot] = transition(kind.machine, snapshot, entry.event as never);
        if (!sameState(snapshot.value, entry.toState as never)) {
          replay = "unavailable";
          reason = `replaying transition ${entry.seq} gave another state than the journal's`;
          contexts.length = 0;
          break;
        }
        contexts.push(plain(snapshot.context));
      }
    } catch (error) {
      replay = "unavailable";
      reason = `replay failed: ${String(error)}`;
      contexts.length = 0;
    }
  }
  const items = entries.map((entry, i): HistoryItem => {
    const context = contexts[i] ?? null;
    const next = contexts[i + 1];
    return {
      seq: entry.seq,
      at: new Date(entry.at).toISOString(),
      event: entry.event,
      from: entry.fromState,
      to: entry.toState,
      context,
      diff_to_next: contexts.length && next !== undefined ? jsonDiff(context, next) : null,
    };
  });
  return { replay, ...(reason ? { reason } : {}), items };
}

/** The machine snapshot of a persisted one, restored (children created, none started). */
export function restore(machine: AnyStateMachine, persisted: unknown, id: string): AnyMachineSnapshot {
  return createActor(machine, { input: { id }, snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot;
}

export interface WhatIf {
  accepted: boolean;
  state: unknown;
  context: unknown;
  diff: DiffEntry[];
  /** What the machine would do: actions XState would execute (replies, timers, tells, ...). */
  actions: { type: string; params?: unknown }[];
}

/** The next state, context diff and actions of `event` from `snapshot`, computed, never applied. */
export function whatIf(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: { type: string; [field: string]: unknown }): WhatIf {
  const accepted = snapshot.status === "active" && snapshot.can(event as never);
  const [next, actions] = transition(machine, snapshot, event as never);
  return {
    accepted,
    state: next.value,
    context: plain(next.context),
    diff: jsonDiff(plain(snapshot.context), plain(next.context)),
    actions: actions.map((a) => {
      const params = plain((a as { params?: unknown }).params);
      return { type: (a as { type: string }).type, ...(params === undefined ? {} : { params }) };
    }),
  };
}

/** A JSON copy (functions and actor refs dropped), as the API answers it. */
function plain(value: unknown): unknown {
  if (value === undefined) return undefined;
  const seen = new WeakSet();
  return JSON.parse(
    JSON.stringify(value, (_key, v) => {
      if (typeof v === "function") return undefined;
      if (v && typeof v === "object") {
        if (seen.has(v)) return undefined;
        seen.add(v);
        if (typeof (v as { send?: unknown }).send === "function" && "sessionId" in v) return `actor:${(v as { id?: string }).id ?? ""}`;
      }
      return v;
    }) ?? "null",
  );
}

/** Leaf-level differences between two JSON values; arrays compare by index. */
export function jsonDiff(before: unknown, after: unknown, path = ""): DiffEntry[] {
  if (Object.is(before, after)) return [];
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";
  if (!isObject(before) || !isObject(after) || Array.isArray(before) !== Array.isArray(after)) {
    return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path: path || "(root)", before, after }];
  }
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].flatMap((key) => jsonDiff(before[key], after[key], path ? `${path}.${key}` : key));
}
