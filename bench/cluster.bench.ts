// bench:cluster — cross-instance asks against raw NATS request/reply between the same two
// processes, answered at once and after committing one row (each request its own commit, then
// grouped: bench/durableBaseline.ts), failover time (SIGKILL to the first answer of a moved actor) under load, and false
// takeovers while every instance's event loop stalls. Lease and shard count are the product's
// defaults unless BENCH_LEASE_MS / BENCH_SHARDS say otherwise.
import { DEFAULT_CLUSTER_LEASE_MS, DEFAULT_SHARD_COUNT } from "../config.ts";
import { clusterHarness, checkLedgers, ledgerLoad, type ClusterHarness, type Node } from "../test/support/cluster.ts";
import { TOKENS } from "../test/support/instance.ts";
import { latencyFigures, percentile, printResult, progress, round } from "./scenario.ts";

const ASKS = Number(process.env.BENCH_ASKS ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const KILLS = Number(process.env.BENCH_KILLS ?? 3);
const LEASE_MS = Number(process.env.BENCH_LEASE_MS ?? DEFAULT_CLUSTER_LEASE_MS);
const SHARDS = Number(process.env.BENCH_SHARDS ?? DEFAULT_SHARD_COUNT);
/** Each instance's event loop blocked this long, this often, for this long (the false-takeover phase). */
const STALL = { stall_ms: Number(process.env.BENCH_STALL_MS ?? 1_000), every_ms: 2_000, for_ms: 20_000 };

async function post(node: Node, path: string, body: unknown = {}) {
  const res = await fetch(`${node.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKENS.internal}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { latencies_ms: number[]; elapsed_ms: number };
}

/** How the replying instance answers a raw request: at once, or after committing one row. */
const ECHOES = ["echo", "echo-commit", "echo-group-commit"] as const;

async function askVersusRaw(a: Node, b: Node) {
  await post(b, "/test/v1/bench/echo");
  const raw = (echo: (typeof ECHOES)[number], count: number) => post(a, "/test/v1/bench/raw-nats", { count, concurrency: CONCURRENCY, target: b.id, echo });
  // Warm every path (actor activation, JIT), then measure each twice, interleaved.
  await post(a, "/test/v1/bench/remote-asks", { count: 1_000, concurrency: CONCURRENCY });
  for (const echo of ECHOES) await raw(echo, 1_000);
  const asks: number[] = [];
  const raws = { echo: [] as number[], "echo-commit": [] as number[], "echo-group-commit": [] as number[] };
  let askMs = 0;
  for (let round = 0; round < 2; round++) {
    const ask = await post(a, "/test/v1/bench/remote-asks", { count: ASKS / 2, concurrency: CONCURRENCY });
    asks.push(...ask.latencies_ms);
    askMs += ask.elapsed_ms;
    for (const echo of ECHOES) raws[echo].push(...(await raw(echo, ASKS / 2)).latencies_ms);
  }
  for (const list of [asks, ...Object.values(raws)]) list.sort((x, y) => x - y);
  return { asks, raws, askRps: asks.length / (askMs / 1000) };
}

/** SIGKILL the instance hosting a probe actor; time until the probe answers from a survivor. */
async function failover(cluster: ClusterHarness, n: number): Promise<number> {
  const nodes = [...cluster.nodes.values()];
  const probe = `probe-${n}`;
  await cluster.apply(nodes[0]!, probe, `warm-${n}`);
  const hosts = await Promise.all(nodes.map((node) => cluster.admin(node, "/admin/v1/actors?type=ledger")));
  const home = hosts.find((h) => h.items.some((i: { id: string }) => i.id === probe))!.instance as string;
  const killedAt = performance.now();
  await cluster.kill(home);
  const survivor = [...cluster.nodes.values()][0]!;
  for (let attempt = 0; ; attempt++) {
    const res = await cluster.apply(survivor, probe, `after-${n}-${attempt}`, 1_000).catch(() => undefined);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - killedAt;
  await cluster.start(`${home}-r${n}`);
  return ms;
}

/** Shards every live instance has lost to a takeover so far (its `lost` handovers). */
async function takeovers(cluster: ClusterHarness): Promise<number> {
  const counts = await Promise.all(
    [...cluster.nodes.values()].map(async (node) => {
      const text = await (await fetch(`${node.url}/metrics`)).text();
      return Number(text.match(/fleet_cluster_handovers_total\{event="lost"\} (\d+)/)?.[1] ?? 0);
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Every instance stalls its event loop under load; a takeover of a live instance's shard is false. */
async function stalledLoops(cluster: ClusterHarness): Promise<{ falseTakeovers: number; failed: number }> {
  const before = await takeovers(cluster);
  const load = ledgerLoad(cluster, { ledgers: 30, concurrency: 4, budgetMs: 20_000 });
  await Promise.all([...cluster.nodes.values()].map((node) => post(node, "/test/v1/bench/stall-loop", STALL)));
  await new Promise((r) => setTimeout(r, STALL.for_ms + LEASE_MS));
  const result = await load.stop();
  return { falseTakeovers: (await takeovers(cluster)) - before, failed: result.failed.length };
}

// A measuring route runs thousands of asks: longer than a request may take in production.
const cluster = await clusterHarness({ leaseMs: LEASE_MS, shardCount: SHARDS, env: { REQUEST_TIMEOUT_MS: "120000" } });
try {
  progress("starting two instances");
  const [a, b] = await Promise.all([cluster.start("b1"), cluster.start("b2")]);
  while ((await cluster.admin(a!, "/admin/v1/cluster")).members.length < 2) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, LEASE_MS)); // let placement settle
  progress(`${ASKS} cross-instance asks vs raw NATS request/reply, ${CONCURRENCY} in flight`);
  const { asks, raws, askRps } = await askVersusRaw(a!, b!);

  progress("third instance, load, and kills");
  await cluster.start("b3");
  await new Promise((r) => setTimeout(r, LEASE_MS));
  const load = ledgerLoad(cluster, { ledgers: 30, concurrency: 4, budgetMs: 20_000 });
  const failovers: number[] = [];
  for (let n = 0; n < KILLS; n++) {
    failovers.push(await failover(cluster, n));
    progress(`failover ${n + 1}: ${Math.round(failovers.at(-1)!)} ms`);
    await new Promise((r) => setTimeout(r, LEASE_MS));
  }
  const result = await load.stop();
  const { missing, duplicated } = await checkLedgers(cluster, result);
  failovers.sort((x, y) => x - y);

  progress(`every event loop stalled ${STALL.stall_ms} ms every ${STALL.every_ms} ms for ${STALL.for_ms} ms, under load`);
  const stalled = await stalledLoops(cluster);

  const askP99 = percentile(asks, 99);
  printResult({
    bench: "cluster",
    instances: 3,
    concurrency: CONCURRENCY,
    ask_rps: round(askRps, 0),
    ...latencyFigures("ask", asks),
    ...latencyFigures("raw_nats", raws.echo),
    ...latencyFigures("raw_nats_commit", raws["echo-commit"]),
    ...latencyFigures("raw_nats_group_commit", raws["echo-group-commit"]),
    p99_ratio: round(askP99 / percentile(raws.echo, 99), 2),
    p99_ratio_vs_durable: round(askP99 / percentile(raws["echo-commit"], 99), 2),
    p99_ratio_vs_group_durable: round(askP99 / percentile(raws["echo-group-commit"], 99), 2),
    lease_ms: LEASE_MS,
    shards: SHARDS,
    failover_ms_median: round(percentile(failovers, 50), 0),
    failover_ms: failovers.map((f) => round(f, 0)),
    acknowledged: [...result.acked.values()].reduce((s, ops) => s + ops.length, 0),
    lost_acknowledged: missing.length,
    applied_twice: duplicated.length,
    failed_beyond_budget: result.failed.length,
    stall_ms: STALL.stall_ms,
    stall_every_ms: STALL.every_ms,
    false_takeovers_while_stalled: stalled.falseTakeovers,
    failed_while_stalled: stalled.failed,
  });
} finally {
  await cluster.close();
}
