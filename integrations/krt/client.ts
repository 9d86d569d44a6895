// The KRT port (the city's driver registry, "АИС КРТ"): check a driver's KRT id against his
// licence, and report his connectivity, answered with his shift (session) status and its end.
// Its HTTP contract and its client with the shared token and a per-instance rate limit.
import { Schema } from "effect";
import { PartnerRejectedError, PartnerUnavailableError } from "../errors.ts";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";
import { RateLimiter, type RateWait } from "../rateLimiter.ts";
import { KrtTokens, type KrtToken, type TokenStore } from "./tokens.ts";

export const SessionStatus = Schema.Literals(["active", "paused", "ended", "none"]);
export type SessionStatus = typeof SessionStatus.Type;

const Iso = Schema.String.check(Schema.isPattern(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, { message: "expected an ISO UTC time" }));

/** `POST /v1/auth/token` `{client_id, client_secret}` -> `{access_token, expires_in}` (seconds); 401 on bad credentials. */
export const TokenRequest = Schema.Struct({ client_id: Schema.String, client_secret: Schema.String });
export const TokenResponse = Schema.Struct({ access_token: Schema.String, expires_in: Schema.Number.check(Schema.isGreaterThan(0)) });

/** `POST /v1/drivers/check` `{id, driver_license}` -> `{valid}`; bearer token. */
export const CheckRequest = Schema.Struct({ id: Schema.String, driver_license: Schema.String });
export const CheckResponse = Schema.Struct({ valid: Schema.Boolean });

/**
 * `POST /v1/drivers/connectivity` `{id, connected, at}` -> `{session: {status, ended_at}}`;
 * `at` is when the driver connected or disconnected; 404 for an id KRT does not know.
 */
export const ConnectivityRequest = Schema.Struct({ id: Schema.String, connected: Schema.Boolean, at: Iso });
export const KrtSession = Schema.Struct({ status: SessionStatus, ended_at: Schema.NullOr(Iso) });
export type KrtSession = typeof KrtSession.Type;
export const ConnectivityResponse = Schema.Struct({ session: KrtSession });

export interface Krt {
  /** Whether KRT knows this id as the driver with this licence. */
  checkId(id: string, driverLicense: string): Promise<boolean>;
  /**
   * Reports a connect or disconnect at `at` (epoch ms); KRT answers with the session. `signal`:
   * the reporter gave up (its actor stopped); a report not sent yet never is.
   */
  sendConnectivity(input: { id: string; connected: boolean; at: number }, signal?: AbortSignal): Promise<KrtSession>;
  /** How long a report made now would wait for this instance's rate limit (0: none). */
  reportWaitMs(): number;
  /** Promises a report a later turn at the rate limit: in how many ms to come back and send it (see `RateLimiter.promiseTurn`). */
  promiseReportTurn(): number;
}

export interface KrtClientOptions extends PartnerClientOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tokens: TokenStore;
  /** Cap on KRT calls per second from this instance; absent: no cap. */
  readonly ratePerSecond?: number;
  /**
   * Id checks (someone waits for the answer) that may wait for the cap, and how long one may wait;
   * beyond either it is refused with `krt_busy`. Connectivity reports wait behind them, unrefused.
   */
  readonly rateQueue?: { readonly maxQueue: number; readonly maxWaitMs: number };
  /** Refresh this long before the token expires. Default 60 s. */
  readonly refreshMarginMs?: number;
  readonly now?: () => number;
}

/**
 * @example const krt = new KrtClient({ baseUrl, timeoutMs: 2000, retries: 2, clientId, clientSecret, tokens: postgresTokenStore(sql) })
 *          const session = await krt.sendConnectivity({ id: "1234567890", connected: true, at: Date.now() })
 */
export class KrtClient implements Krt {
  readonly #http: JsonClient;
  readonly #tokens: KrtTokens;
  readonly #limiter: RateLimiter | undefined;
  /** Reports begun that have not reached the rate limit yet (e.g. waiting for the token): they will queue there. */
  #reportsComing = 0;

  constructor(options: KrtClientOptions) {
    const now = options.now ?? Date.now;
    this.#limiter = options.ratePerSecond ? new RateLimiter(options.ratePerSecond, { system: "krt", ...options.rateQueue }) : undefined;
    this.#http = createJsonClient({ ...options, system: "krt" });
    this.#tokens = new KrtTokens(options.tokens, () => this.#obtainToken(options.clientId, options.clientSecret, now), {
      marginMs: options.refreshMarginMs ?? 60_000,
      now,
    });
  }

  /** Calls waiting for the rate limit, and reports promised a later turn. */
  get waiting(): number {
    return (this.#limiter?.waiting ?? 0) + (this.#limiter?.promised ?? 0);
  }

  reportWaitMs(): number {
    return this.#limiter?.patientWaitMs(this.#reportsComing) ?? 0;
  }

  promiseReportTurn(): number {
    return this.#limiter?.promiseTurn(this.#reportsComing) ?? 0;
  }

  /** Someone waits for the answer: beyond the rate limit's bounded queue it is refused with `krt_busy`. */
  async checkId(id: string, driverLicense: string): Promise<boolean> {
    return (await this.#call("/v1/drivers/check", { id, driver_license: driverLicense }, CheckResponse, "bounded")).valid;
  }

  /**
   * Waits its turn at the rate limit however long, behind the id checks: a session has one report
   * in flight and keeps only its latest connectivity, so the reports waiting are at most the sessions.
   */
  async sendConnectivity(input: { id: string; connected: boolean; at: number }, signal?: AbortSignal): Promise<KrtSession> {
    const body = { id: input.id, connected: input.connected, at: new Date(input.at).toISOString() };
    this.#reportsComing++;
    let coming = true;
    const arrived = () => {
      if (coming) this.#reportsComing--;
      coming = false;
    };
    try {
      return (await this.#call("/v1/drivers/connectivity", body, ConnectivityResponse, "patient", signal, arrived)).session;
    } finally {
      arrived();
    }
  }

  /**
   * Every attempt, the client's own retries included, takes a token: the cap holds under 429/5xx
   * too. `arrived`: the call reached the rate limit (it counts among those waiting there now).
   */
  #turn(wait: RateWait, arrived?: () => void): { beforeAttempt?: (signal: AbortSignal | undefined) => Promise<void> } {
    const limiter = this.#limiter;
    if (!limiter) return {};
    return {
      beforeAttempt: (signal) => {
        const turn = limiter.take(wait, signal);
        arrived?.();
        return turn;
      },
    };
  }

  async #call<S extends Schema.Decoder<unknown>>(
    path: string,
    body: unknown,
    response: S,
    wait: RateWait,
    signal?: AbortSignal,
    arrived?: () => void,
  ): Promise<S["Type"]> {
    const token = await this.#tokens.get();
    try {
      return await this.#http.request("POST", path, body, response, { headers: { authorization: `Bearer ${token}` }, signal, ...this.#turn(wait, arrived) });
    } catch (error) {
      if (!isUnauthorized(error)) throw error;
    }
    // KRT dropped our token (expired early, revoked): one renewal shared with concurrent callers, one more try.
    const renewed = await this.#tokens.renew(token);
    try {
      return await this.#http.request("POST", path, body, response, { headers: { authorization: `Bearer ${renewed}` }, signal, ...this.#turn(wait) });
    } catch (error) {
      if (isUnauthorized(error)) throw new PartnerUnavailableError("krt", "krt refuses a freshly issued token", { status: 401 });
      throw error;
    }
  }

  async #obtainToken(clientId: string, clientSecret: string, now: () => number): Promise<KrtToken> {
    try {
      // Every call waits for the token: it waits with the id checks, ahead of the reports.
      const body = { client_id: clientId, client_secret: clientSecret };
      const out = await this.#http.request("POST", "/v1/auth/token", body, TokenResponse, this.#turn("bounded"));
      return { accessToken: out.access_token, expiresAt: now() + out.expires_in * 1000 };
    } catch (error) {
      // Wrong credentials are an outage for callers: nothing works until an operator fixes them.
      if (isUnauthorized(error)) throw new PartnerUnavailableError("krt", "krt refuses our credentials", { status: 401 });
      throw error;
    }
  }
}

const isUnauthorized = (error: unknown) => error instanceof PartnerRejectedError && error.status === 401;
