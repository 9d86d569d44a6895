// A fake partner server on hyper-express with fault switches, shared by every partner simulator.
import HyperExpress from "hyper-express";
import { Result, Schema } from "effect";
import { describeIssues, issueLines } from "./issues.ts";

/** Faults applied to every partner route (not to `/__*` admin routes). Mutate freely; the next request sees it. */
export interface FaultSwitches {
  /** Answer 503 `{code:"down"}`. */
  down: boolean;
  /** Wait this long before handling. */
  slowMs: number;
  /** Share of requests (0..1) answered 500. */
  errorRate: number;
  /** Share of requests (0..1) whose connection is closed with no answer. */
  dropRate: number;
  /** Share of requests (0..1) handled in full whose answer is then lost (connection closed). */
  lostReplyRate: number;
  /** Answer 429 with `Retry-After: 1`. */
  rateLimit: boolean;
  /** Answer 401. */
  unauthorized: boolean;
}

export const noFaults = (): FaultSwitches => ({
  down: false,
  slowMs: 0,
  errorRate: 0,
  dropRate: 0,
  lostReplyRate: 0,
  rateLimit: false,
  unauthorized: false,
});

const Share = Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }));
const FaultPatch = Schema.Struct({
  down: Schema.optional(Schema.Boolean),
  slowMs: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))),
  errorRate: Schema.optional(Share),
  dropRate: Schema.optional(Share),
  lostReplyRate: Schema.optional(Share),
  rateLimit: Schema.optional(Schema.Boolean),
  unauthorized: Schema.optional(Schema.Boolean),
});

export interface SimulatorOptions {
  readonly name: string;
  /** 0 or absent: any free port. */
  readonly port?: number;
  readonly routes: (app: HyperExpress.Server, faults: FaultSwitches) => void;
}

export interface Simulator {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly faults: FaultSwitches;
  /** Partner requests received (admin routes excluded), counted before faults apply. */
  readonly stats: { requests: number };
  close(): Promise<void>;
}

/**
 * Starts a simulator on 127.0.0.1. Another process flips faults with `POST /__faults` (`GET` reads them,
 * `POST /__faults/reset` clears them).
 * @example const sim = await startSimulator({ name: "parks", routes: (app) => app.post("/v1/x", handler) })
 */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const { name } = options;
  const faults = noFaults();
  const stats = { requests: 0 };
  // auto_close off: whoever starts a simulator closes it (see the note in http/server.ts).
  const app = new HyperExpress.Server({ max_body_length: 1 << 20, auto_close: false });

  app.use(async (req, res) => {
    if (req.path.startsWith("/__")) return;
    stats.requests++;
    if (faults.down) return res.status(503).json({ code: "down", message: `${name} is down` });
    if (faults.slowMs > 0) await new Promise((r) => setTimeout(r, faults.slowMs));
    if (faults.unauthorized) return res.status(401).json({ code: "unauthorized", message: "bad credentials" });
    if (faults.rateLimit) {
      return res.status(429).header("retry-after", "1").json({ code: "rate_limited", message: "slow down" });
    }
    if (Math.random() < faults.dropRate) return res.close();
    if (Math.random() < faults.errorRate) return res.status(500).json({ code: "injected", message: "injected error" });
    if (Math.random() < faults.lostReplyRate) {
      // The route does its work; only its answer never reaches the client.
      res.json = () => res.close() as unknown as typeof res;
    }
  });
  app.get("/__health", (_req, res) => res.json({ name }));
  app.get("/__faults", (_req, res) => res.json(faults));
  app.post("/__faults", async (req, res) => {
    const patch = await decodeBody(req, res, FaultPatch);
    if (patch === undefined) return;
    Object.assign(faults, patch);
    res.json(faults);
  });
  app.post("/__faults/reset", (_req, res) => res.json(Object.assign(faults, noFaults())));
  app.set_error_handler((_req, res, error) => {
    if (!res.completed) res.status(500).json({ code: "internal", message: error.message });
  });
  options.routes(app, faults);

  await app.listen(options.port ?? 0, "127.0.0.1");
  const port = app.port;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    faults,
    stats,
    async close() {
      await app.shutdown();
    },
  };
}

/**
 * Reads and decodes a JSON body. On bad input answers 400 `{code:"invalid_body", issues:[{path, message}]}`
 * and returns undefined.
 */
export async function decodeBody<S extends Schema.Decoder<unknown>>(
  req: HyperExpress.Request,
  res: HyperExpress.Response,
  schema: S,
): Promise<S["Type"] | undefined> {
  // hyper-express yields {} for malformed JSON unless given a default.
  const json: unknown = await req.json(null);
  if (json === null) {
    res.status(400).json({ code: "invalid_body", message: "body must be JSON", issues: [] });
    return undefined;
  }
  const decoded = Schema.decodeUnknownResult(schema, { errors: "all" })(json);
  if (Result.isSuccess(decoded)) return decoded.success;
  const issues = issueLines(decoded.failure);
  res.status(400).json({ code: "invalid_body", message: describeIssues(issues), issues });
  return undefined;
}
