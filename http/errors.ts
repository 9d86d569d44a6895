// The JSON error format and the one place where failures become HTTP statuses.
import { ActorError, ActorRefusalError } from "../actors/errors.ts";

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  body(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) };
  }

  answer(): { status: number; body: ErrorBody } {
    return { status: this.status, body: this.body() };
  }
}

export const badRequest = (code: string, message: string, details?: unknown) => new HttpError(400, code, message, details);
export const notFound = (what: string) => new HttpError(404, "not_found", `${what} not found`);
export const conflict = (code: string, message: string, details?: unknown) => new HttpError(409, code, message, details);

/**
 * The runtime's own failures, as clients see them: a status and a message of their own. The
 * runtime's messages name actor addresses, machine states and database errors, which are
 * internals (and an address may carry an id a caller should not learn), so they stay in the log.
 */
const actorFailures: Record<string, { status: number; message: string }> = {
  actor_timeout: { status: 504, message: "no answer in time; it may still complete: retry with the same Idempotency-Key" },
  event_rejected: { status: 409, message: "this request does not apply in the current state" },
  stale_actor: { status: 503, message: "changed concurrently; retry" },
  actor_unavailable: { status: 503, message: "temporarily unavailable; retry" },
  actor_failed: { status: 500, message: "internal error" },
  unknown_actor_kind: { status: 500, message: "internal error" },
  // The change cannot be stored as sent (a value out of range, a constraint): retrying is futile.
  commit_rejected: { status: 422, message: "this change cannot be stored (a value out of range or a broken constraint)" },
  not_found: { status: 404, message: "not found" },
};

/**
 * Machine refusals that are not conflicts: the device or broker behind the actor could not be
 * reached (a cabinet that missed its polls, the MQTT broker down) or did not answer in time, or
 * the thing asked for does not exist.
 */
const refusalStatus: Record<string, number> = {
  cabinet_unresponsive: 503,
  mqtt_unavailable: 503,
  cabinet_not_responding: 504,
  not_found: 404,
};

/** Maps any failure to a status and body; unknown failures are 500 and logged by the caller. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  // A machine's own refusal speaks the product's language (its code, message and details are the API).
  if (error instanceof ActorRefusalError) return new HttpError(refusalStatus[error.code] ?? 409, error.code, error.message, error.details);
  if (error instanceof ActorError) {
    const failure = actorFailures[error.code] ?? { status: 500, message: "internal error" };
    return new HttpError(failure.status, error.code, failure.message);
  }
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string") {
    // Partner clients (integrations/errors.ts): `<system>_unavailable`, `<system>_busy` and `<system>_timeout`.
    if (code.endsWith("_unavailable") || code.endsWith("_busy")) return new HttpError(503, code, (error as Error).message);
    if (code.endsWith("_timeout")) return new HttpError(504, code, (error as Error).message);
    // statement_timeout (storage/database.ts): a query ran past its bound and was cancelled.
    if (code === "57014") return new HttpError(503, "database_timeout", "the database did not answer in time");
    // postgres.js connection failures and Postgres "cannot connect now" / admin shutdown classes.
    if (["ECONNREFUSED", "ECONNRESET", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECT_TIMEOUT", "57P01", "57P03"].includes(code)) {
      return new HttpError(503, "database_unavailable", "the database is not reachable");
    }
  }
  return new HttpError(500, "internal", "internal error");
}
