// A kind's machine definition as a graph the inspector draws: its states (nested, parallel,
// final) and its transitions with event types, guard names and action names.
import type { AnyStateMachine } from "xstate";

export interface GraphState {
  /** Dotted path from the root, e.g. `registered.connectivity.online`; "" is the root. */
  path: string;
  key: string;
  parent: string | null;
  type: "atomic" | "compound" | "parallel" | "final" | "history";
  /** The initial child's path, for compound states. */
  initial: string | null;
}

export interface GraphTransition {
  /** The state whose handler this is. */
  source: string;
  /** Event type; `always` for eventless transitions. */
  event: string;
  /** Target paths; empty for a self-transition that only runs actions. */
  targets: string[];
  guard: string | null;
  actions: string[];
}

export interface MachineGraph {
  id: string;
  states: GraphState[];
  transitions: GraphTransition[];
  /** Event types some state handles (the "what if" choices). */
  events: string[];
}

interface NodeLike {
  id: string;
  key: string;
  type: GraphState["type"];
  states: Record<string, NodeLike>;
  initial?: { target?: readonly NodeLike[] };
  transitions: Map<string, readonly TransitionLike[]>;
  always?: readonly TransitionLike[];
}

interface TransitionLike {
  target?: readonly NodeLike[];
  guard?: unknown;
  actions?: readonly unknown[];
}

const nameOf = (thing: unknown): string | null => {
  if (thing === undefined || thing === null) return null;
  if (typeof thing === "string") return thing;
  if (typeof thing === "function") return thing.name || "inline";
  const type = (thing as { type?: unknown }).type;
  return typeof type === "string" ? type : "inline";
};

/** `cabinet.registered.online` -> `registered.online` (paths are relative to the root). */
const pathOf = (machineId: string, id: string) => (id === machineId ? "" : id.slice(machineId.length + 1));

/**
 * The machine's graph.
 * @example machineGraph(kind.machine).states.map((s) => s.path)
 */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const root = machine.root as unknown as NodeLike;
  const states: GraphState[] = [];
  const transitions: GraphTransition[] = [];
  const events = new Set<string>();
  const visit = (node: NodeLike, parent: string | null) => {
    const path = pathOf(root.id, node.id);
    const initial = node.initial?.target?.[0];
    states.push({ path, key: node.key, parent, type: node.type, initial: initial ? pathOf(root.id, initial.id) : null });
    const add = (event: string, t: TransitionLike) =>
      transitions.push({
        source: path,
        event,
        targets: (t.target ?? []).map((n) => pathOf(root.id, n.id)),
        guard: nameOf(t.guard),
        actions: (t.actions ?? []).map(nameOf).filter((a): a is string => a !== null),
      });
    for (const [event, list] of node.transitions) {
      events.add(event);
      for (const t of list) add(event, t);
    }
    for (const t of node.always ?? []) add("always", t);
    for (const child of Object.values(node.states)) visit(child, path);
  };
  visit(root, null);
  return { id: root.id, states, transitions, events: [...events].sort() };
}

/** Paths of every active state of a state value (`{ registered: { connectivity: "online" } }`). */
export function activePaths(value: unknown, prefix = ""): string[] {
  if (typeof value === "string") return [prefix ? `${prefix}.${value}` : value];
  if (!value || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...activePaths(child, path)];
  });
}
