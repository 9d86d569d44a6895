// bench:memory — what an active actor costs in memory, per kind, in a realistic state: BENCH_ACTORS
// actors of each kind are driven through the events the services send them (bench/memoryScenarios.ts)
// until they are idle; heap and RSS are read after a full GC with their live XState actors, again
// once they are asleep (SLEEP_AFTER_MS: only their persisted snapshot kept), and again once all are
// passivated. An actor's cost is the difference to the last (what the in-process partner
// simulators recorded meanwhile stays after passivation, so it is not counted); what passivation
// leaves behind is reported apart. Kinds one after the other, so the peak is one kind's population. Goal (issue 22):
// <= 10 KB per active actor of each kind.
import { randomBytes } from "node:crypto";
import { writeHeapSnapshot } from "node:v8";
import { loadConfig } from "../config.ts";
import { startInstance, type Instance } from "../instance.ts";
import type { StateValue } from "xstate";
import { createLogger } from "../actors/logger.ts";
import { stateName } from "../actors/ActorKind.ts";
import { dropSchema, openPostgres, type Sql } from "../storage/database.ts";
import { printResult, progress, round } from "./scenario.ts";
import { ASK_TIMEOUT_MS, memoryScenarios, scenarioEnv, type MemoryScenario } from "./memoryScenarios.ts";

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
// 2,000 a kind runs in ~5 minutes; on a loaded 2-core machine 10,000 cabinets take ~3.5 minutes, 100,000 accumulators ~1 (see bench/README.md).
const globalActors = Number(process.env.BENCH_ACTORS ?? 2_000);
/** Per-kind counts overriding BENCH_ACTORS, e.g. `cabinet=20000,mailing=50000`. */
const actorsByKind = new Map(
  (process.env.BENCH_ACTORS_BY_KIND ?? "")
    .split(",")
    .filter(Boolean)
    .map((pair) => {
      const [kind, n] = pair.split("=");
      return [kind!, Number(n)] as const;
    }),
);
/** Comma-separated kinds to run (default all). */
const only = process.env.BENCH_KINDS?.split(",").filter(Boolean);
/** A directory: heap snapshots of each kind active and passivated are written there (compare them with bench/heapDiff.ts). */
const snapshots = process.env.BENCH_HEAP_SNAPSHOTS;
const gc = (globalThis as { gc?: () => void }).gc;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Usage {
  heap: number;
  rss: number;
}

async function settled(): Promise<Usage> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(50);
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

const kb = (bytes: number, n: number) => round(bytes / n / 1024, 2);

function hostedOf(instance: Instance, type: string) {
  return instance.system.host.hosted().filter((c) => c.address.type === type);
}

/**
 * Waits until every hosted actor of `type` is idle (its turns committed, no invoked work alive).
 * Checked once a second: at 100,000 actors a check every 100 ms took half the main thread from
 * the partner calls the actors were still making.
 */
async function idle(instance: Instance, type: string): Promise<void> {
  const until = Date.now() + 30 * 60_000;
  while (hostedOf(instance, type).some((c) => !c.isIdle())) {
    if (Date.now() > until) throw new Error(`${type}: actors never became idle`);
    await sleep(1_000);
  }
}

/** Passivates the idle actors of `type`, as ActorHost.passivateIdle does (for this kind only, at once). */
function passivateIdle(instance: Instance, type: string): Promise<unknown> {
  return Promise.all(
    hostedOf(instance, type)
      .filter((c) => c.isIdle())
      .map((c) => c.retire("passivated", { flush: false })),
  );
}

/**
 * Passivates until none of the kind is left and the outbox holds nothing more for it: a just-woken
 * actor is idle only once its start has settled.
 */
async function passivateAll(instance: Instance, sql: Sql, type: string): Promise<void> {
  const undelivered = async () => (await sql<{ n: number }[]>`select count(*)::int as n from actor_outbox`)[0]!.n;
  const until = Date.now() + 600_000;
  while (hostedOf(instance, type).length > 0 || (await undelivered()) > 0) {
    if (Date.now() > until) throw new Error(`${type}: ${hostedOf(instance, type).length} actors never became idle`);
    await passivateIdle(instance, type);
    await sleep(50);
  }
}

async function measureKind(instance: Instance, sql: Sql, scenario: MemoryScenario): Promise<Record<string, unknown>> {
  const actors = actorsByKind.get(scenario.type) ?? globalActors;
  await scenario.prepare?.(actors);
  const before = await settled();
  const started = performance.now();
  // What the kind's turns wake in other kinds (a cabinet's accumulators) is not the kind's cost: an
  // instance passivates them once idle (100,000 cabinets wake 2,000,000 accumulators).
  const passivating = setInterval(() => {
    for (const other of scenario.wakes ?? []) void passivateIdle(instance, other);
  }, 1_000);
  try {
    await scenario.drive(actors);
  } finally {
    clearInterval(passivating);
  }
  await idle(instance, scenario.type);
  for (const other of scenario.wakes ?? []) await passivateAll(instance, sql, other);
  const drivenSeconds = round((performance.now() - started) / 1000, 1);
  // Idle as long as SLEEP_AFTER_MS (default 30 s) waits: no asker waits for a reply any more.
  await sleep(ASK_TIMEOUT_MS);
  const live = await settled();
  if (snapshots) writeHeapSnapshot(`${snapshots}/${scenario.type}-live.heapsnapshot`);
  const n = hostedOf(instance, scenario.type).length;
  // How many reached the scenario's state: a partner that timed out under load leaves some behind.
  const states: Record<string, number> = {};
  for (const cell of hostedOf(instance, scenario.type)) {
    const name = stateName((cell.snapshot()?.value ?? "none") as StateValue);
    states[name] = (states[name] ?? 0) + 1;
  }
  // What SLEEP_AFTER_MS then does: only their persisted snapshot stays, and the replies kept for retried asks go.
  const sleeping = performance.now();
  for (const cell of hostedOf(instance, scenario.type)) cell.sleep();
  const sleepUs = round(((performance.now() - sleeping) * 1000) / n, 1);
  const asleep = await settled();
  if (snapshots) writeHeapSnapshot(`${snapshots}/${scenario.type}-asleep.heapsnapshot`);
  await passivateAll(instance, sql, scenario.type);
  const after = await settled();
  if (snapshots) writeHeapSnapshot(`${snapshots}/${scenario.type}-passivated.heapsnapshot`);
  progress(
    `${scenario.type}: ${n} active (${scenario.state}) after ${drivenSeconds} s, heap (RSS) ${kb(live.heap - after.heap, n)} (${kb(live.rss - after.rss, n)}) KB each live, ${kb(asleep.heap - after.heap, n)} (${kb(asleep.rss - after.rss, n)}) KB asleep; states ${JSON.stringify(states)}`,
  );
  return {
    kind: scenario.type,
    state: scenario.state,
    actors: n,
    states,
    driven_s: drivenSeconds,
    heap_kb_per_actor: kb(asleep.heap - after.heap, n),
    rss_kb_per_actor: kb(asleep.rss - after.rss, n),
    heap_kb_per_live_actor: kb(live.heap - after.heap, n),
    rss_kb_per_live_actor: kb(live.rss - after.rss, n),
    heap_kb_per_actor_left_after_passivation: kb(after.heap - before.heap, n),
    sleep_us_per_actor: sleepUs,
  };
}

async function main(): Promise<void> {
  if (!gc) throw new Error("run with --expose-gc (npm run bench:memory does)");
  const schema = `bench_memory_${randomBytes(4).toString("hex")}`;
  const db = await openPostgres({ url, schema, max: 8 });
  const instance = await startInstance(loadConfig({ PORT: "0", DEMO_DATA: "false", CRM_SCHEMA: schema, LOG_LEVEL: "silent", ...scenarioEnv }), {
    db,
    logger: createLogger({ level: "silent" }),
  });
  const kinds: Record<string, unknown>[] = [];
  try {
    for (const scenario of memoryScenarios(instance, db.sql)) {
      if (only && !only.includes(scenario.type)) continue;
      kinds.push(await measureKind(instance, db.sql, scenario));
    }
  } finally {
    await instance.stop();
    await dropSchema(url, schema);
  }
  // An active actor is hosted; after SLEEP_AFTER_MS idle it is asleep, so a long-running instance
  // holds most of its population asleep and the few it is working with live: both are judged.
  const worst = (field: string) => Math.max(...kinds.map((k) => k[field] as number));
  const asleep = worst("heap_kb_per_actor");
  const live = worst("heap_kb_per_live_actor");
  printResult({
    bench: "memory",
    actors_per_kind: globalActors,
    kinds,
    max_heap_kb_per_actor: asleep,
    max_heap_kb_per_live_actor: live,
    goal_kb_per_actor: 10,
    goal_met_asleep: asleep <= 10,
    goal_met_live: live <= 10,
  });
}

await main();
// Partner clients keep their connections alive: the result is printed, the process is done.
process.exit(0);
