// The JSON-over-HTTP client every partner client is built on: per-attempt timeout, backoff retries, Schema-checked answers.
// It talks through undici's `request` over one keep-alive `Pool` per client: the global `fetch` (the same
// undici behind WHATWG Request/Headers/streams) cost ~0.5 ms of CPU per call.
import { Duration, Effect, Result, Schedule, Schema } from "effect";
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
  /**
   * Waited for before every attempt, retries included, outside the attempt's timeout (a partner's
   * rate limit: each attempt takes its own token).
   */
  readonly beforeAttempt?: () => Promise<void>;
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
  const backoff = Schedule.exponential(clientOptions.retryBaseMs ?? 100).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ input, duration }) => Effect.succeed(Math.min(maxDelayMs, retryAfterOf(input) ?? Duration.toMillis(duration)))),
  );

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

  return {
    async close() {
      closed = true;
      const p = pool;
      pool = undefined;
      await p?.close();
    },
    request(method, path, body, response, options = {}) {
      const { headers, signal } = options;
      const decode = Schema.decodeUnknownResult(response, { errors: "all" });
      const attempt = Effect.tryPromise({
        try: async (signal): Promise<RawAnswer> => {
          const connections = dispatcher();
          const res = await connections.request({
            path: basePath + path,
            method,
            signal,
            headers: headersFor(body !== undefined, headers),
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          // Read the body on every path (an unread one holds its connection); on failure destroy it.
          let text: string;
          try {
            text = await res.body.text();
          } catch (error) {
            res.body.destroy();
            throw error;
          }
          return { status: res.statusCode, retryAfter: headerOf(res.headers["retry-after"]), text };
        },
        catch: (cause): PartnerError => new PartnerUnavailableError(system, `${system} is unreachable`, { cause }),
      }).pipe(
        // The timeout interrupts the attempt, which aborts its request (and destroys its body) through `signal`.
        Effect.timeoutOrElse({
          duration: timeoutMs,
          orElse: () => Effect.fail<PartnerError>(new PartnerTimeoutError(system, timeoutMs)),
        }),
        Effect.flatMap((raw) => Effect.fromResult(classify(raw))),
      );
      const beforeAttempt = clientOptions.beforeAttempt;
      const waitTurn = (turn: () => Promise<void>) => Effect.tryPromise({ try: turn, catch: (error) => error as PartnerError });
      const attemptInTurn = beforeAttempt ? Effect.andThen(waitTurn(beforeAttempt), attempt) : attempt;
      // Every partner call is a read or carries an idempotency key, so repeating an attempt is safe;
      // a refusal of our own rate limit (busy) is not repeated: that would only lengthen its queue.
      const retried = attemptInTurn.pipe(
        Effect.retry({ schedule: backoff, times: retries, while: (error) => isTransient(error) && !(error instanceof PartnerBusyError) }),
      );
      const run = signal === undefined ? Effect.runPromise(retried) : runAbortable(retried, signal);
      const observe = clientOptions.observe;
      if (!observe) return run;
      const started = performance.now();
      const ended = (outcome: string) => observe({ system, outcome, seconds: (performance.now() - started) / 1000 });
      return run.then(
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

/** Runs the call until `signal` aborts it; an aborted call rejects with the signal's reason, whatever it was doing. */
async function runAbortable<A>(call: Effect.Effect<A, PartnerError>, signal: AbortSignal): Promise<A> {
  try {
    return await Effect.runPromise(call, { signal });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  }
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
