// A fake KRT: drivers (id + licence), per-driver shift sessions with end times, issued tokens,
// and a log of every connectivity report accepted. Fault switches: the shared ones (down, slow,
// 500s, 429, 401), expiring every issued token at once, and KRT's own (`krtFaults`): refusing id
// checks with a 4xx, answering them off contract.
import { randomBytes } from "node:crypto";
import type { Request, Response } from "hyper-express";
import { Schema } from "effect";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { CheckRequest, ConnectivityRequest, TokenRequest, type KrtSession, type SessionStatus } from "./client.ts";

export interface KrtCall {
  readonly id: string;
  readonly connected: boolean;
  /** When the driver connected or disconnected, as reported (epoch ms). */
  readonly at: number;
  /** When the report arrived (epoch ms, simulator clock). */
  readonly received_at: number;
}

/** KRT's own faults, beside the shared ones. Mutate freely; the next request sees it. */
export interface KrtFaults {
  /** Answer every id check with this 4xx (e.g. 403: KRT does not let us check ids); null: check. */
  refuseChecks: number | null;
  /** Answer every id check with a body off the contract. */
  checksOffContract: boolean;
}

export const noKrtFaults = (): KrtFaults => ({ refuseChecks: null, checksOffContract: false });

interface Session {
  status: Exclude<SessionStatus, "ended" | "none">;
  ended_at: number;
}

export interface KrtSimulatorOptions {
  readonly port?: number;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Lifetime of issued tokens. Default one hour. */
  readonly tokenTtlMs?: number;
  /** Length of a shift opened by a connect. Default 12 hours. */
  readonly shiftMs?: number;
  readonly now?: () => number;
}

export interface KrtSimulator extends Simulator {
  readonly krtFaults: KrtFaults;
  /** Makes KRT know a driver: his KRT id and licence. */
  register(id: string, driverLicense: string): void;
  /** Sets a driver's session (e.g. one that ends soon, or has ended). */
  setSession(id: string, session: { status: "active" | "paused"; ended_at: number } | undefined): void;
  session(id: string): KrtSession;
  /** Every token issued so far answers 401 from now on (what an early expiry looks like). */
  expireTokens(): void;
  /** Connectivity reports accepted, in arrival order. */
  calls(): readonly KrtCall[];
  clearCalls(): void;
  readonly krtStats: { tokensIssued: number; connectivityCalls: number; checks: number };
}

const DriversRequest = Schema.Struct({ drivers: Schema.Array(Schema.Struct({ id: Schema.String, driver_license: Schema.String })) });

/**
 * Serves `POST /v1/auth/token`, `/v1/drivers/check`, `/v1/drivers/connectivity`; for other
 * processes `POST /__krt/drivers` `{drivers: [{id, driver_license}]}`, `POST /__krt/expire-tokens`,
 * `GET /__krt/calls?since=` and `GET /__krt/stats`.
 * @example const krt = await startKrtSimulator(); krt.register("1234567890", "77AB123456")
 */
export async function startKrtSimulator(options: KrtSimulatorOptions = {}): Promise<KrtSimulator> {
  const now = options.now ?? Date.now;
  const clientId = options.clientId ?? "fleet";
  const clientSecret = options.clientSecret ?? "fleet-secret";
  const tokenTtlMs = options.tokenTtlMs ?? 3_600_000;
  const shiftMs = options.shiftMs ?? 12 * 3_600_000;
  const licences = new Map<string, string>();
  const sessions = new Map<string, Session>();
  const tokens = new Map<string, number>();
  let calls: KrtCall[] = [];
  const krtStats = { tokensIssued: 0, connectivityCalls: 0, checks: 0 };
  const krtFaults = noKrtFaults();

  const view = (id: string): KrtSession => {
    const s = sessions.get(id);
    if (!s) return { status: "none", ended_at: null };
    const ended_at = new Date(s.ended_at).toISOString();
    return now() >= s.ended_at ? { status: "ended", ended_at } : { status: s.status, ended_at };
  };

  const authorized = (req: Request, res: Response): boolean => {
    const token = req.headers.authorization?.startsWith("Bearer ") ? req.headers.authorization.slice(7) : "";
    const expiresAt = tokens.get(token);
    if (expiresAt !== undefined && now() < expiresAt) return true;
    res.status(401).json({ code: "token_expired", message: "unknown or expired token" });
    return false;
  };

  const register = (id: string, driverLicense: string) => void licences.set(id, driverLicense);

  const sim = await startSimulator({
    name: "krt",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.post("/v1/auth/token", async (req, res) => {
        const body = await decodeBody(req, res, TokenRequest);
        if (!body) return;
        if (body.client_id !== clientId || body.client_secret !== clientSecret) {
          return res.status(401).json({ code: "bad_credentials", message: "unknown client" });
        }
        const token = randomBytes(16).toString("hex");
        tokens.set(token, now() + tokenTtlMs);
        krtStats.tokensIssued++;
        res.json({ access_token: token, expires_in: tokenTtlMs / 1000 });
      });
      app.post("/v1/drivers/check", async (req, res) => {
        if (!authorized(req, res)) return;
        const body = await decodeBody(req, res, CheckRequest);
        if (!body) return;
        krtStats.checks++;
        if (krtFaults.refuseChecks !== null) return res.status(krtFaults.refuseChecks).json({ code: "refused", message: "id check refused" });
        if (krtFaults.checksOffContract) return res.json({ valid: "yes" });
        res.json({ valid: licences.get(body.id) === body.driver_license });
      });
      app.post("/v1/drivers/connectivity", async (req, res) => {
        if (!authorized(req, res)) return;
        const body = await decodeBody(req, res, ConnectivityRequest);
        if (!body) return;
        if (!licences.has(body.id)) return res.status(404).json({ code: "unknown_id", message: "no driver with this id" });
        krtStats.connectivityCalls++;
        calls.push({ id: body.id, connected: body.connected, at: Date.parse(body.at), received_at: now() });
        const current = view(body.id);
        const open = current.status === "active" || current.status === "paused";
        if (body.connected) {
          // A connect continues an open shift or opens a new one.
          sessions.set(body.id, open ? { status: "active", ended_at: sessions.get(body.id)!.ended_at } : { status: "active", ended_at: now() + shiftMs });
        } else if (open) {
          sessions.set(body.id, { status: "paused", ended_at: sessions.get(body.id)!.ended_at });
        }
        res.json({ session: view(body.id) });
      });
      app.post("/__krt/drivers", async (req, res) => {
        const body = await decodeBody(req, res, DriversRequest);
        if (!body) return;
        for (const d of body.drivers) register(d.id, d.driver_license);
        res.json({ registered: body.drivers.length });
      });
      app.post("/__krt/expire-tokens", (_req, res) => {
        tokens.clear();
        res.json({ expired: true });
      });
      app.get("/__krt/calls", (req, res) => {
        const since = Number(req.query_parameters.since ?? 0);
        res.json({ calls: calls.slice(since), total: calls.length });
      });
      app.get("/__krt/stats", (_req, res) => res.json({ ...krtStats, calls: calls.length }));
    },
  });

  return {
    ...sim,
    krtFaults,
    register,
    setSession: (id, session) => {
      if (session) sessions.set(id, { ...session });
      else sessions.delete(id);
    },
    session: view,
    expireTokens: () => tokens.clear(),
    calls: () => calls,
    clearCalls: () => {
      calls = [];
    },
    krtStats,
  };
}
