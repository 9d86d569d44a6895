// Typed failures of the actor runtime. Each has a stable `code` that http/ maps to a status.

export class ActorError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; details?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.details = options?.details;
  }
  readonly details: unknown;
}

/** Nobody answered before the caller's deadline. The event may still be applied later. */
export class AskTimeoutError extends ActorError {
  constructor(address: string, timeoutMs: number, message = `${address} did not answer within ${timeoutMs} ms`) {
    super("actor_timeout", message);
  }
}

/** The actor's machine does not accept this event in its current state. Nothing changed. */
export class EventRejectedError extends ActorError {
  constructor(
    address: string,
    eventType: string,
    readonly state: unknown,
  ) {
    super("event_rejected", `${address} does not accept ${eventType} in state ${JSON.stringify(state)}`, {
      details: { state },
    });
  }
}

/** The machine answered the ask with a refusal of its own (`replyError`). */
export class ActorRefusalError extends ActorError {}

/** Another writer committed first (or holds a newer epoch); this turn was not applied. Retryable. */
export class StaleActorError extends ActorError {
  constructor(address: string) {
    super("stale_actor", `${address} was changed elsewhere; reloaded`);
  }
}

/** The actor's machine threw; it is stopped and reloads from its last committed snapshot. */
export class ActorFailedError extends ActorError {
  constructor(address: string, cause: unknown) {
    super("actor_failed", `${address} failed`, { cause });
  }
}

/**
 * The database refused the actor's commit for its data (a value out of range, a constraint): the
 * turn is rolled back, the actor reloads from its last commit, and a retry of the same request
 * fails the same way.
 */
export class CommitRejectedError extends ActorError {
  constructor(address: string, cause: unknown) {
    super("commit_rejected", `${address} could not store this change: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** No actor kind is registered for this address type. */
export class UnknownActorKindError extends ActorError {
  constructor(type: string) {
    super("unknown_actor_kind", `no actor kind ${type}`);
  }
}

/** The runtime is stopping or the transport cannot reach the host in time. Retryable. */
export class UnavailableError extends ActorError {
  constructor(message: string, cause?: unknown) {
    super("actor_unavailable", message, { cause });
  }
}

/** Rebuilds the typed error a remote host reported in a reply. */
export function errorFromReply(address: string, code: string, message: string, details?: unknown): ActorError {
  switch (code) {
    case "actor_timeout":
      // The actor got the ask after its deadline and dropped it: a timeout like any other.
      return new AskTimeoutError(address, 0, message);
    case "event_rejected":
      return new EventRejectedError(address, String((details as { event?: string })?.event ?? "event"), (details as { state?: unknown })?.state);
    case "stale_actor":
      return new StaleActorError(address);
    case "actor_failed":
      return new ActorFailedError(address, message);
    case "unknown_actor_kind":
      return new UnknownActorKindError(address);
    case "commit_rejected":
      return new ActorError(code, message);
    case "actor_unavailable":
      return new UnavailableError(message);
    default:
      return new ActorRefusalError(code, message, { details });
  }
}
