// What travels between callers, transports and actor hosts, and the effects a machine may emit.
// Machines stay pure: they `emit` these effects and the runtime performs them after commit.
/** `type/id`, e.g. `mailing/6f1c...` or `cabinet/CAB-17`. */
export interface Address {
  readonly type: string;
  readonly id: string;
}

export const formatAddress = (a: Address): string => `${a.type}/${a.id}`;

export function parseAddress(text: string): Address {
  const slash = text.indexOf("/");
  if (slash <= 0 || slash === text.length - 1) throw new Error(`not an actor address: ${text}`);
  return { type: text.slice(0, slash), id: text.slice(slash + 1) };
}

/** An event as a machine receives it: the runtime stamps the time and, for asks, where to reply. */
export interface Delivered {
  readonly type: string;
  /** Milliseconds since the epoch, from the runtime's clock: machines never read a clock. */
  readonly at: number;
  /** Present on asks: pass it to `reply(...)`, now or in a later turn. */
  readonly replyTo?: string;
  readonly [field: string]: unknown;
}

export interface Envelope {
  readonly to: Address;
  readonly event: { readonly type: string; readonly [field: string]: unknown };
  /** Unique per logical message; redeliveries keep it so the receiver can drop repeats. */
  readonly messageId: string;
  /** Set for asks. */
  readonly replyTo?: string;
  /** Absolute deadline (wall-clock epoch ms) after which nobody waits for the answer. */
  readonly deadline: number;
  /** Set when a durable timer fires: the commit of this turn consumes that timer. */
  readonly timer?: { readonly key: string; readonly dueAt: number };
}

export type Reply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly details?: unknown };

/** Effects a machine emits; see the helpers below. */
export type Effect =
  | { type: "reply"; replyTo: string | undefined; reply: Reply }
  | { type: "reply.defer"; replyTo: string | undefined }
  | { type: "timer.set"; key: string; delayMs: number; event: { type: string; [k: string]: unknown } }
  | { type: "timer.cancel"; key: string }
  | { type: "tell"; to: string; event: { type: string; [k: string]: unknown } };

/**
 * Reply to an ask (ignored for a tell); released only after the snapshot of this turn is committed.
 * @example emit(({ event, context }) => reply(event.replyTo, { status: "created" }))
 */
export const reply = (replyTo: string | undefined, value: unknown) => ({ type: "reply", replyTo, reply: { ok: true, value } }) satisfies Effect;

/**
 * Keep the ask open past this turn (e.g. until a device answers); reply in a later turn with the
 * `replyTo` kept in context. An ask that gets neither `reply` nor `deferReply` in its turn is
 * answered with the actor's state and context after the commit.
 */
export const deferReply = (replyTo: string | undefined) => ({ type: "reply.defer", replyTo }) satisfies Effect;

/** Answer an ask with a refusal the caller maps to an error (e.g. 409 for `already_sent`). */
export const replyError = (replyTo: string | undefined, code: string, message: string) =>
  ({ type: "reply", replyTo, reply: { ok: false, code, message } }) satisfies Effect;

/**
 * A durable timer: stored with the snapshot, fires `event` `delayMs` after this turn (runtime
 * clock), after restarts and failover, once. Setting a key again replaces the earlier due time.
 */
export const setTimer = (key: string, delayMs: number, event: { type: string; [k: string]: unknown }) =>
  ({ type: "timer.set", key, delayMs, event }) satisfies Effect;

export const cancelTimer = (key: string) => ({ type: "timer.cancel", key }) satisfies Effect;

/** A message to another actor, written to the outbox with the snapshot and delivered after commit. */
export const tellActor = (to: string, event: { type: string; [k: string]: unknown }) => ({ type: "tell", to, event }) satisfies Effect;
