// Bench: an HTTP route that asks an actor (middleware + ask + group commit to Postgres) vs a raw hyper-express constant route,
// and vs that route committing one row before it answers (each request its own commit, then grouped: bench/durableBaseline.ts);
// then the same route with the inspector's live feed open (an SSE client watching every kind), against the same
// route without it, in alternating rounds (BENCH_WATCH_ROUNDS, default 3; BENCH_WATCH=0 skips them); and the same
// job on Restate with the same load, for the ratios to it (BENCH_RESTATE=0 skips it).
import { randomBytes } from "node:crypto";
import HyperExpress from "hyper-express";
import { Registry } from "prom-client";
import { Schema } from "effect";
import type { Role } from "../config.ts";
import { dropSchema, openPostgres } from "../storage/database.ts";
import { ActorSystem } from "../actors/ActorSystem.ts";
import { InProcessTransport } from "../actors/transport/InProcessTransport.ts";
import { createLogger } from "../actors/logger.ts";
import { createHttpServer } from "../http/server.ts";
import { TokenRoles } from "../http/tokens.ts";
import { route } from "../http/route.ts";
import { Inspection } from "../actors/Inspection.ts";
import { inspectorRoutes } from "../http/routes/inspector.ts";
import { counterKind } from "../test/support/counterKind.ts";
import { commitEach, commitGrouped, createDurableBaselineTable, type DurableWrite } from "./durableBaseline.ts";
import { measureRestate, restateOverheadSeconds } from "./restate.ts";
import { histogramTotals, measure, printResult, progress, round, type LoadResult, type LoadSpec } from "./scenario.ts";

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const actors = Number(process.env.BENCH_ACTORS ?? 1000);
const watch = process.env.BENCH_WATCH !== "0";
const watchRounds = Number(process.env.BENCH_WATCH_ROUNDS ?? 3);
const compareRestate = process.env.BENCH_RESTATE !== "0";
const token = "bench-internal-token";
const schema = `bench_ask_${randomBytes(4).toString("hex")}`;

/** Event-loop utilisation and CPU (in cores) of this (server) process from `start()` to `stop()`. */
function serverLoad() {
  let elu = performance.eventLoopUtilization();
  let cpu = process.cpuUsage();
  return {
    start: () => {
      elu = performance.eventLoopUtilization();
      cpu = process.cpuUsage();
    },
    stop: () => {
      const e = performance.eventLoopUtilization(elu);
      const c = process.cpuUsage(cpu);
      return { elu: round(e.utilization, 2), cores: round((c.user + c.system) / 1000 / (e.idle + e.active), 2) };
    },
  };
}

/** A load's figures in the JSON line, as `<name>_rps`, `_p50_ms` ... `_max_ms`, `_errors`. */
function loadFigures(name: string, result: LoadResult): Record<string, number> {
  return {
    [`${name}_rps`]: result.rps,
    [`${name}_p50_ms`]: result.p50_ms,
    [`${name}_p99_ms`]: result.p99_ms,
    [`${name}_p999_ms`]: result.p999_ms,
    [`${name}_max_ms`]: result.max_ms,
    [`${name}_errors`]: result.errors,
  };
}

/** A raw route's figures: its load's, and `<name>_server_cpu_cores`. */
function routeFigures(name: string, { result, server }: { result: LoadResult; server: { cores: number } }): Record<string, number> {
  return { ...loadFigures(name, result), [`${name}_server_cpu_cores`]: server.cores };
}

// Watchdog: a stuck bench still drops its schema and exits.
const limitMs =
  ((4 + (watch ? 2 * watchRounds : 0) + (compareRestate ? 1 : 0)) * (warmupSeconds + seconds) + 60 + (compareRestate ? restateOverheadSeconds : 0)) * 1000;
setTimeout(() => {
  progress(`watchdog: no result after ${limitMs} ms, giving up`);
  void dropSchema(url, schema).finally(() => process.exit(2));
}, limitMs).unref();

const db = await openPostgres({ url, schema, max: 4 });
const logger = createLogger({ level: "silent" });
const registry = new Registry();
const transport = new InProcessTransport();
const system = new ActorSystem({ sql: db.sql, kinds: [counterKind()], transport, logger, registry });
const inspection = new Inspection({ system, transport, prefix: "bench", instanceId: "bench", registry });
const http = createHttpServer({
  sql: db.sql,
  tokens: new TokenRoles(
    new Map<Role, string[]>([
      ["internal", [token]],
      ["admin", ["bench-admin-token"]],
    ]),
  ),
  bodyLimitBytes: 64 * 1024,
  idempotencyLeaseMs: 30_000,
  requestTimeoutMs: 10_000,
  logger,
  registry,
  instanceId: "bench",
  checks: [],
});
route(http.app, http.deps, {
  method: "post",
  path: "/bench/counters/:counter/increment",
  role: "internal",
  params: Schema.Struct({ counter: Schema.NonEmptyString }),
  body: Schema.Struct({ by: Schema.optional(Schema.Number) }),
  handle: async ({ params, body }) => ({ status: 200, body: await system.ask(`counter/${params.counter}`, { type: "increment", by: body.by ?? 1 }) }),
});
inspectorRoutes(http.app, { ...http.deps, tag: "inspector", system, inspection, instanceId: "bench", cluster: undefined });
const raw = new HyperExpress.Server();
raw.post("/raw", (_req, res) => void res.json({ count: 1 }));
// The same route, durable: it answers once its row is committed, on the runtime's pool.
await createDurableBaselineTable(db.sql);
const durableRoute = (path: string, durable: DurableWrite) =>
  raw.post(path, async (_req, res) => {
    await durable.commit("ask");
    res.json({ count: 1 });
  });
durableRoute("/raw-commit", commitEach(db.sql));
durableRoute("/raw-group-commit", commitGrouped(db.sql));

try {
  const actorPort = await http.listen(0, "127.0.0.1");
  await raw.listen(0, "127.0.0.1");
  const rawPort = (raw as unknown as { port: number }).port;
  const common = { method: "POST", body: JSON.stringify({ by: 1 }), connections, warmupSeconds, seconds } as const;
  progress(`schema ${schema}; ${connections} connections, ${warmupSeconds}s warm-up + ${seconds}s each, ${actors} actors`);

  const measureRaw = async (path: string) => {
    progress(`raw hyper-express route ${path}...`);
    const load = serverLoad();
    const result = await measure({ ...common, origin: `http://127.0.0.1:${rawPort}`, path }, load.start);
    const server = load.stop();
    progress(`${path}: ${JSON.stringify(result)}`);
    return { result, server };
  };
  const { result: rawResult, server: rawServer } = await measureRaw("/raw");

  progress("actor ask route...");
  const actorLoad = serverLoad();
  const snapshot = async () => ({
    batch: await histogramTotals(system.metrics.commitBatch),
    commit: await histogramTotals(system.metrics.commitSeconds),
    ask: await histogramTotals(system.metrics.asks),
  });
  let before: Awaited<ReturnType<typeof snapshot>> | undefined;
  const spec: LoadSpec = {
    ...common,
    origin: `http://127.0.0.1:${actorPort}`,
    path: "/bench/counters/{n}/increment",
    spread: actors,
    headers: { authorization: `Bearer ${token}` },
  };
  const actorResult: LoadResult = await measure(spec, () => {
    void snapshot().then((s) => (before = s));
    actorLoad.start();
  });
  const actorServer = actorLoad.stop();
  const after = await snapshot();
  progress(`actor: ${JSON.stringify(actorResult)}`);
  // The durable baselines after ours: ours runs right after the raw route, as in the runs of
  // earlier sessions, so its figures compare across them.
  const commitEachRun = await measureRaw("/raw-commit");
  const commitGroupedRun = await measureRaw("/raw-group-commit");

  let restateResult: Awaited<ReturnType<typeof measureRestate>> | undefined;
  if (compareRestate) {
    progress("the same job on Restate...");
    restateResult = await measureRestate(spec);
    progress(`restate: ${JSON.stringify(restateResult)}`);
  }

  // The inspector's feed open (every kind, as the page's live feed tab) against closed, in rounds
  // of one phase each, alternating which goes first (W U, U W, ...) so that drift of a shared
  // machine falls on both alike; the ratio is of the sums over all rounds.
  let watched:
    | {
        rps: number;
        p99_ms: number;
        unwatched_rps: number;
        records: number;
        published: number;
        dropped: number;
        ratios: number[];
        cpu_on: number;
        cpu_off: number;
      }
    | undefined;
  if (watch) {
    const counter = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);
    const withFeed = async () => {
      const feed = new AbortController();
      let records = 0;
      const res = await fetch(`http://127.0.0.1:${actorPort}/inspector/api/feed`, {
        headers: { authorization: "Bearer bench-admin-token" },
        signal: feed.signal,
      });
      const reading = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) records += decoder.decode(chunk, { stream: true }).split("\n\n").length - 1;
      })().catch(() => {});
      const result = await measured();
      feed.abort();
      await reading;
      return { result, records };
    };
    // Server CPU per request over the measured phase: steadier than throughput on a shared machine.
    const measured = async () => {
      let cpu = process.cpuUsage();
      const result = await measure(spec, () => (cpu = process.cpuUsage()));
      const used = process.cpuUsage(cpu);
      return { ...result, cpu_us_per_request: round((used.user + used.system) / Math.max(1, result.requests), 1) };
    };
    const [published0, dropped0] = [await counter("fleet_inspect_published_total"), await counter("fleet_inspect_dropped_total")];
    const on: (LoadResult & { cpu_us_per_request: number })[] = [];
    const off: (LoadResult & { cpu_us_per_request: number })[] = [];
    let records = 0;
    for (let round = 0; round < watchRounds; round++) {
      for (const open of round % 2 === 0 ? [true, false] : [false, true]) {
        if (open) {
          const r = await withFeed();
          on.push(r.result);
          records += r.records;
        } else off.push(await measured());
        progress(`round ${round + 1}, feed ${open ? "open" : "closed"}: ${JSON.stringify((open ? on : off).at(-1))}`);
      }
    }
    const [published1, dropped1] = [await counter("fleet_inspect_published_total"), await counter("fleet_inspect_dropped_total")];
    const mean = <T>(list: T[], pick: (r: T) => number) => list.reduce((n, r) => n + pick(r), 0) / list.length;
    watched = {
      rps: mean(on, (r) => r.rps),
      p99_ms: mean(on, (r) => r.p99_ms),
      unwatched_rps: mean(off, (r) => r.rps),
      records,
      published: published1 - published0,
      dropped: dropped1 - dropped0,
      ratios: on.map((r, i) => round(r.rps / off[i]!.rps, 3)),
      cpu_on: mean(on, (r) => r.cpu_us_per_request),
      cpu_off: mean(off, (r) => r.cpu_us_per_request),
    };
  }

  const delta = (k: "batch" | "commit" | "ask") => ({ sum: after[k].sum - (before?.[k].sum ?? 0), count: after[k].count - (before?.[k].count ?? 0) });
  const batch = delta("batch");
  const commit = delta("commit");
  const ask = delta("ask");
  printResult({
    bench: "ask",
    connections,
    seconds,
    actors,
    ...loadFigures("actor", actorResult),
    ...loadFigures("raw", rawResult),
    p99_ratio: round(actorResult.p99_ms / rawResult.p99_ms, 2),
    rps_ratio: round(actorResult.rps / rawResult.rps, 3),
    server_ask_mean_ms: round((ask.sum / Math.max(1, ask.count)) * 1000),
    commit_batch_mean: round(batch.sum / Math.max(1, batch.count), 1),
    commit_tx_mean_ms: round((commit.sum / Math.max(1, commit.count)) * 1000),
    commits_per_s: Math.round(commit.count / seconds),
    ...(restateResult
      ? {
          ...loadFigures("restate", restateResult),
          restate_cpu_cores: round(restateResult.server_cpu_cores + restateResult.endpoint_cpu_cores, 2),
          restate_server_cpu_cores: restateResult.server_cpu_cores,
          restate_endpoint_cpu_cores: restateResult.endpoint_cpu_cores,
          restate_cpu_us_per_ask: Math.round(((restateResult.server_cpu_cores + restateResult.endpoint_cpu_cores) / restateResult.rps) * 1e6),
          rps_vs_restate: round(actorResult.rps / restateResult.rps, 2),
          p99_vs_restate: round(actorResult.p99_ms / restateResult.p99_ms, 3),
        }
      : {}),
    actor_server_elu: actorServer.elu,
    actor_server_cpu_cores: actorServer.cores,
    actor_server_cpu_us_per_ask: Math.round((actorServer.cores / actorResult.rps) * 1e6),
    raw_server_elu: rawServer.elu,
    raw_server_cpu_cores: rawServer.cores,
    // The raw route committing one row per request before it answers, then grouped per tick.
    ...routeFigures("raw_commit", commitEachRun),
    ...routeFigures("raw_group_commit", commitGroupedRun),
    p99_ratio_vs_durable: round(actorResult.p99_ms / commitEachRun.result.p99_ms, 2),
    p99_ratio_vs_group_durable: round(actorResult.p99_ms / commitGroupedRun.result.p99_ms, 2),
    ...(watched
      ? {
          watched_rps: Math.round(watched.rps),
          watched_p99_ms: round(watched.p99_ms),
          unwatched_rps: Math.round(watched.unwatched_rps),
          watched_vs_unwatched: round(watched.rps / watched.unwatched_rps, 3),
          watched_vs_unwatched_per_round: watched.ratios,
          watched_cpu_us_per_request: round(watched.cpu_on, 1),
          unwatched_cpu_us_per_request: round(watched.cpu_off, 1),
          watched_cpu_ratio: round(watched.cpu_on / watched.cpu_off, 3),
          inspect_published: watched.published,
          inspect_dropped: watched.dropped,
          feed_records: watched.records,
        }
      : {}),
  });
} finally {
  await http.close().catch(() => {});
  await raw.shutdown().catch(() => {});
  await system.stop().catch(() => {});
  await db.close().catch(() => {});
  await dropSchema(url, schema).catch((e) => progress(`drop schema failed: ${String(e)}`));
}
// Whatever a library may leave open (uWS, sockets), the bench is over.
setTimeout(() => process.exit(), 1000).unref();
