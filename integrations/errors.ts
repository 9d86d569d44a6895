// Typed failures of partner systems. Each `code` is `<system>_<kind>` (e.g. `feeds_unavailable`) and stable.

/** Base of every partner failure: `system` names the partner, `code` is what http/ maps to a status. */
export class PartnerError extends Error {
  constructor(
    readonly system: string,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Unreachable, 5xx, or 429 after retries were exhausted. Worth retrying later. */
export class PartnerUnavailableError extends PartnerError {
  /** The HTTP status of the last attempt; undefined when the connection itself failed. */
  readonly status: number | undefined;
  /** The partner's `Retry-After`, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(system: string, message: string, options?: { cause?: unknown; status?: number; retryAfterMs?: number }) {
    super(system, `${system}_unavailable`, message, options);
    this.status = options?.status;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * Refused before calling: this instance's queue for the partner's rate limit is full, or the
 * call would wait there too long. An outage for the caller (retry later), but one that our own
 * retries would only lengthen.
 */
export class PartnerBusyError extends PartnerUnavailableError {
  override readonly code = `${this.system}_busy`;
}

/** No complete answer within the per-attempt timeout (after retries, if any). Worth retrying later. */
export class PartnerTimeoutError extends PartnerError {
  constructor(
    system: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(system, `${system}_timeout`, `${system} did not answer within ${timeoutMs} ms`, options);
  }
}

/** A 4xx other than 429: the request itself is wrong or not allowed; repeating it will not help. */
export class PartnerRejectedError extends PartnerError {
  constructor(
    system: string,
    readonly status: number,
    /** The response body: parsed JSON when it was JSON, else the raw text. */
    readonly body: unknown,
    options?: { cause?: unknown },
  ) {
    super(system, `${system}_rejected`, `${system} rejected the request with ${status}`, options);
  }
}

/** The answer did not match the agreed schema (or was not JSON). A contract bug, not a transient one. */
export class PartnerProtocolError extends PartnerError {
  constructor(system: string, message: string, options?: { cause?: unknown }) {
    super(system, `${system}_protocol`, `${system} answered off contract: ${message}`, options);
  }
}

/** Failures that a later attempt may cure. */
export const isTransient = (e: unknown): e is PartnerUnavailableError | PartnerTimeoutError =>
  e instanceof PartnerUnavailableError || e instanceof PartnerTimeoutError;
