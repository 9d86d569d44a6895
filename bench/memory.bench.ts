// bench:memory — what an active actor costs in memory, per kind: BENCH_ACTORS actors of a kind
// are woken (each a live XState actor in its machine's initial state, as the runtime holds it
// between messages), heap and RSS are read after a full GC, then again after all are passivated.
// Kinds one after the other, so the peak is one kind's population. Goal (issue 22): <= 10 KB per
// active actor of each kind.
import { randomBytes } from "node:crypto";
import { loadConfig } from "../config.ts";
import { startInstance } from "../instance.ts";
import { createLogger } from "../actors/logger.ts";
import { dropSchema, openPostgres } from "../storage/database.ts";
import { printResult, progress, round } from "./scenario.ts";

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const actors = Number(process.env.BENCH_ACTORS ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;

interface Usage {
  heap: number;
  rss: number;
}

async function settled(): Promise<Usage> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

const perActor = (bytes: number) => round(bytes / actors / 1024, 2);

async function main(): Promise<void> {
  if (!gc) throw new Error("run with --expose-gc (npm run bench:memory does)");
  const schema = `bench_memory_${randomBytes(4).toString("hex")}`;
  const db = await openPostgres({ url, schema, max: 4 });
  const instance = await startInstance(loadConfig({ PORT: "0", DEMO_DATA: "false", LOG_LEVEL: "silent" }), {
    db,
    logger: createLogger({ level: "silent" }),
  });
  const kinds = Object.values(instance.services)
    .flatMap((s) => s.kinds)
    .filter((k) => !k.singletons?.length);
  const hostedOf = (type: string) => instance.system.host.hosted().filter((c) => c.address.type === type).length;
  /** Passivates until none of the kind is left: a just-woken actor is idle only once its start has settled. */
  const passivateAll = async (type: string) => {
    let passivated = 0;
    for (let round = 0; hostedOf(type) > 0; round++) {
      if (round > 500) throw new Error(`${type}: ${hostedOf(type)} actors never became idle`);
      passivated += await instance.system.host.passivateIdle(0);
      await new Promise((r) => setTimeout(r, 20));
    }
    return passivated;
  };
  const figures: Record<string, unknown> = {};
  try {
    for (const kind of kinds) {
      const before = await settled();
      for (let i = 0; i < actors; i++) instance.system.host.wake({ type: kind.type, id: `bench-${i}` });
      const active = await settled();
      const passivated = await passivateAll(kind.type);
      const after = await settled();
      progress(`${kind.type}: ${actors} active, ${passivated} passivated`);
      figures[`${kind.type}_heap_kb_per_actor`] = perActor(active.heap - before.heap);
      figures[`${kind.type}_rss_kb_per_actor`] = perActor(active.rss - before.rss);
      figures[`${kind.type}_heap_kb_left_per_actor_after_passivation`] = perActor(after.heap - before.heap);
    }
  } finally {
    await instance.stop();
    await dropSchema(url, schema);
  }
  const heaps = kinds.map((k) => figures[`${k.type}_heap_kb_per_actor`] as number);
  printResult({
    bench: "memory",
    actors_per_kind: actors,
    ...figures,
    max_heap_kb_per_actor: Math.max(...heaps),
    goal_kb_per_actor: 10,
    goal_met: Math.max(...heaps) <= 10,
  });
}

await main();
