// The JSON-over-HTTP client every partner client is built on: per-attempt timeout, backoff retries, Schema-checked answers.
// It talks through undici's `request` over one keep-alive `Pool` per client: the global `fetch` (the same
// undici behind WHATWG Request/Headers/streams) cost ~0.5 ms of CPU per call. Timeouts, retries and
// aborts are plain promises and timers: running each call as an Effect (tryPromise, timeout, retry
// schedule, runPromise) cost about a quarter of the client's CPU per call (bench/partnerCall.ts).
import { Result, Schema } from "effect";
import { Pool } from "undici";
import { isTransient, PartnerProtocolError, PartnerRejectedError, PartnerTimeoutError } from "./errors.ts";
import { PartnerBusyError, PartnerError, PartnerUnavailableError } from "./errors.ts";
import { describeIssues, issueLines } from "./issues.ts";

export interface JsonClientOptions {
  /** The partner's name, used in error codes: `feeds` gives `feeds_unavailable`. */
  readonly system: string;
  readonly baseUrl: string;
  /** Budget of one attempt, reading the body included. */
  readonly timeoutMs: number;
  /** Attempts after the first one. */
  readonly retries: number;
  /** First backoff delay in ms; doubles on each retry, with ±20% jitter. Default 100. */
  readonly retryBaseMs?: number;
  /** Cap on any single wait, a partner's `Retry-After` included. Default 5000. */
  readonly maxDelayMs?: number;
  /** Keep-alive connections to the partner at most; further requests queue (inside their timeout). Default 32. */
  readonly connections?: number;
  /** Told of every call once it ended, retries included: `ok` or the failure's kind (`unavailable`, `timeout`, `rejected`, `protocol`). */
  readonly observe?: (call: { system: string; outcome: string; seconds: number }) => void;
}

/** What a partner client takes from config: everything but its own name. */
export type PartnerClientOptions = Omit<JsonClientOptions, "system">;

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RequestOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborting it ends the call at once (between attempts too) and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Waited for before every attempt, retries included, outside the attempt's timeout (a partner's
   * rate limit: each attempt takes its own token, with the kind of wait this request gets). Given
   * the request's signal: when it aborts, the wait must end at once, rejected with its reason.
   */
  readonly beforeAttempt?: (signal: AbortSignal | undefined) => Promise<void>;
}

export interface JsonClient {
  /**
   * Sends `body` as JSON and decodes the answer with `response`.
   * Rejects with a `PartnerError` subclass.
   * @example const out = await client.request("POST", "/v1/feeds/publish", batch, PublishResponse)
   */
  request<S extends Schema.Decoder<unknown>>(
    method: HttpMethod,
    path: string,
    body: unknown | undefined,
    response: S,
    options?: RequestOptions,
  ): Promise<S["Type"]>;
  /**
   * Closes the client's connections; later requests fail. Optional to call: idle connections do not
   * keep the process alive (undici unrefs idle sockets) and close themselves after the keep-alive timeout.
   */
  close(): Promise<void>;
}

type RawAnswer = { readonly status: number; readonly retryAfter: string | null; readonly text: string };

/** @example const feeds = createJsonClient({ system: "feeds", baseUrl, timeoutMs: 2000, retries: 3 }) */
export function createJsonClient(clientOptions: JsonClientOptions): JsonClient {
  const { system, timeoutMs, retries } = clientOptions;
  const baseUrl = clientOptions.baseUrl.replace(/\/+$/, "");
  const maxDelayMs = clientOptions.maxDelayMs ?? 5_000;
  const retryBaseMs = clientOptions.retryBaseMs ?? 100;
  const observe = clientOptions.observe;

  // Created on first use, so that a malformed baseUrl fails the request (as unavailable), not the constructor.
  let pool: Pool | undefined;
  let basePath = "";
  let closed = false;
  const dispatcher = (): Pool => {
    if (pool !== undefined) return pool;
    if (closed) throw new Error(`the ${system} client is closed`);
    const url = new URL(baseUrl);
    basePath = url.pathname.replace(/\/+$/, "");
    pool = new Pool(url.origin, { connections: clientOptions.connections ?? 32, pipelining: 1 });
    return pool;
  };

  /** One attempt within its own timeout; the caller's signal aborting ends it too, rejecting with its reason. */
  async function attempt(
    method: HttpMethod,
    path: string,
    payload: string | undefined,
    headers: Record<string, string>,
    caller?: AbortSignal,
  ): Promise<RawAnswer> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // Settled by whichever comes first: the answer, the timeout or the caller's abort; the loser is aborted and ignored.
    const ended = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new PartnerTimeoutError(system, timeoutMs));
        controller.abort();
      }, timeoutMs);
      if (caller !== undefined) {
        onAbort = () => {
          reject(caller.reason);
          controller.abort();
        };
        caller.addEventListener("abort", onAbort, { once: true });
      }
    });
    const exchange = (async (): Promise<RawAnswer> => {
      try {
        const res = await dispatcher().request({ path: basePath + path, method, signal: controller.signal, headers, body: payload });
        // Read the body on every path (an unread one holds its connection); on failure destroy it.
        let text: string;
        try {
          text = await res.body.text();
        } catch (error) {
          res.body.destroy();
          throw error;
        }
        return { status: res.statusCode, retryAfter: headerOf(res.headers["retry-after"]), text };
      } catch (cause) {
        throw new PartnerUnavailableError(system, `${system} is unreachable`, { cause });
      }
    })();
    exchange.catch(() => {}); // once the timeout or the caller won, its failure has no reader
    try {
      return await Promise.race([exchange, ended]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) caller!.removeEventListener("abort", onAbort);
    }
  }

  /** Waits `ms` unless the caller aborts meanwhile (then rejects with its reason). */
  function pause(ms: number, caller?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (caller === undefined) {
        setTimeout(resolve, ms);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(caller.reason);
      };
      const timer = setTimeout(() => {
        caller.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      caller.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Exponential backoff from `retryBaseMs` with ±20% jitter; a partner's Retry-After instead when it sent one; capped. */
  const delayBefore = (retry: number, error: unknown): number => {
    const exponential = retryBaseMs * 2 ** (retry - 1);
    const jittered = exponential * (0.8 + 0.4 * Math.random());
    return Math.min(maxDelayMs, retryAfterOf(error) ?? jittered);
  };

  return {
    async close() {
      closed = true;
      const p = pool;
      pool = undefined;
      await p?.close();
    },
    request(method, path, body, response, options = {}) {
      const { headers, signal, beforeAttempt } = options;
      const decode = Schema.decodeUnknownResult(response, { errors: "all" });
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const sent = headersFor(body !== undefined, headers);
      type Decoded = (typeof response)["Type"];
      const run = async (): Promise<Decoded> => {
        for (let retry = 0; ; retry++) {
          if (signal?.aborted) throw signal.reason;
          try {
            if (beforeAttempt !== undefined) await beforeAttempt(signal);
            const classified = classify(await attempt(method, path, payload, sent, signal));
            if (Result.isSuccess(classified)) return classified.success as Decoded;
            throw classified.failure;
          } catch (error) {
            if (signal?.aborted) throw signal.reason;
            // Every partner call is a read or carries an idempotency key, so repeating an attempt is safe;
            // a refusal of our own rate limit (busy) is not repeated: that would only lengthen its queue.
            if (retry >= retries || !isTransient(error) || error instanceof PartnerBusyError) throw error;
            await pause(delayBefore(retry + 1, error), signal);
          }
        }
      };
      if (!observe) return run();
      const started = performance.now();
      const ended = (outcome: string) => observe({ system, outcome, seconds: (performance.now() - started) / 1000 });
      return run().then(
        (value) => {
          ended("ok");
          return value;
        },
        (error: unknown) => {
          ended(outcomeOf(error, system, signal));
          throw error;
        },
      );

      function classify(raw: RawAnswer): Result.Result<unknown, PartnerError> {
        const { status } = raw;
        if (status === 429 || status >= 500) {
          const retryAfterMs = parseRetryAfter(raw.retryAfter);
          const detail = { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
          return Result.fail(new PartnerUnavailableError(system, `${system} answered ${status}`, detail));
        }
        if (status >= 400) return Result.fail(new PartnerRejectedError(system, status, parseLoose(raw.text)));
        if (status < 200 || status >= 300) return Result.fail(new PartnerProtocolError(system, `status ${status}`));
        let json: unknown;
        try {
          json = raw.text === "" ? undefined : JSON.parse(raw.text);
        } catch (cause) {
          return Result.fail(new PartnerProtocolError(system, "the body is not JSON", { cause }));
        }
        const decoded = decode(json);
        if (Result.isSuccess(decoded)) return Result.succeed(decoded.success);
        const issues = describeIssues(issueLines(decoded.failure));
        return Result.fail(new PartnerProtocolError(system, issues, { cause: decoded.failure }));
      }
    },
  };
}

function outcomeOf(error: unknown, system: string, signal: AbortSignal | undefined): string {
  if (signal?.aborted) return "aborted";
  return error instanceof PartnerError && error.code.startsWith(`${system}_`) ? error.code.slice(system.length + 1) : "error";
}

const acceptOnly: Readonly<Record<string, string>> = { accept: "application/json" };
const acceptAndType: Readonly<Record<string, string>> = { accept: "application/json", "content-type": "application/json" };

/** Caller headers override ours (names are case-insensitive, so they are lowercased first). */
function headersFor(hasBody: boolean, extra: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(hasBody ? acceptAndType : acceptOnly) };
  if (extra !== undefined) for (const name in extra) out[name.toLowerCase()] = extra[name]!;
  return out;
}

function headerOf(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return typeof value === "string" ? value : value.join(", ");
}

function retryAfterOf(error: unknown): number | undefined {
  return error instanceof PartnerUnavailableError ? error.retryAfterMs : undefined;
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function parseLoose(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
