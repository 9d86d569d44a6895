// The JSON-over-HTTP client every partner client is built on: per-attempt timeout, backoff retries, Schema-checked answers.
import { Duration, Effect, Result, Schedule, Schema } from "effect";
import { isTransient, PartnerProtocolError, PartnerRejectedError, PartnerTimeoutError } from "./errors.ts";
import { PartnerUnavailableError, type PartnerError } from "./errors.ts";
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
}

/** What a partner client takes from config: everything but its own name. */
export type PartnerClientOptions = Omit<JsonClientOptions, "system">;

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

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
    headers?: Readonly<Record<string, string>>,
  ): Promise<S["Type"]>;
}

type RawAnswer = { readonly status: number; readonly retryAfter: string | null; readonly text: string };

/** @example const feeds = createJsonClient({ system: "feeds", baseUrl, timeoutMs: 2000, retries: 3 }) */
export function createJsonClient(options: JsonClientOptions): JsonClient {
  const { system, timeoutMs, retries } = options;
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  const backoff = Schedule.exponential(options.retryBaseMs ?? 100).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ input, duration }) =>
      Effect.succeed(Math.min(maxDelayMs, retryAfterOf(input) ?? Duration.toMillis(duration))),
    ),
  );

  return {
    request(method, path, body, response, headers) {
      const decode = Schema.decodeUnknownResult(response, { errors: "all" });
      const attempt = Effect.tryPromise({
        try: async (signal): Promise<RawAnswer> => {
          const res = await fetch(baseUrl + path, {
            method,
            signal,
            headers: {
              accept: "application/json",
              ...(body === undefined ? {} : { "content-type": "application/json" }),
              ...headers,
            },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          return { status: res.status, retryAfter: res.headers.get("retry-after"), text: await res.text() };
        },
        catch: (cause): PartnerError => new PartnerUnavailableError(system, `${system} is unreachable`, { cause }),
      }).pipe(
        // The timeout interrupts the attempt, which aborts its fetch through `signal`.
        Effect.timeoutOrElse({
          duration: timeoutMs,
          orElse: () => Effect.fail<PartnerError>(new PartnerTimeoutError(system, timeoutMs)),
        }),
        Effect.flatMap((raw) => Effect.fromResult(classify(raw))),
      );
      // Every partner call is a read or carries an idempotency key, so repeating an attempt is safe.
      const retried = attempt.pipe(Effect.retry({ schedule: backoff, times: retries, while: isTransient }));
      return Effect.runPromise(retried);

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
