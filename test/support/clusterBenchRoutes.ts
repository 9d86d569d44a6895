// Measurement routes of a cluster test node (bench:cluster): asks from this process to actors
// hosted on another instance, and raw NATS request/reply to that instance, in the same process;
// the replying instance answers at once (`echo`) or after committing one row (`echo-commit`: each
// request its own commit; `echo-group-commit`: grouped per tick), see bench/durableBaseline.ts.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import type { Instance } from "../../instance.ts";
import type { RouteDeps } from "../../http/route.ts";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { route } from "../../http/route.ts";
import { commitEach, commitGrouped, createDurableBaselineTable } from "../../bench/durableBaseline.ts";

const Run = Schema.Struct({ count: Schema.Int, concurrency: Schema.Int });
const Echo = Schema.Literals(["echo", "echo-commit", "echo-group-commit"]);
const RawRun = Schema.Struct({ count: Schema.Int, concurrency: Schema.Int, target: Schema.String, echo: Schema.optional(Echo) });
const Stalls = Schema.Struct({ stall_ms: Schema.Int, every_ms: Schema.Int, for_ms: Schema.Int });

/** Runs `count` calls with `concurrency` in flight; latencies in ms, ascending. */
async function run(count: number, concurrency: number, call: (i: number) => Promise<unknown>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await call(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies_ms: latencies.sort((a, b) => a - b), elapsed_ms: performance.now() - started };
}

export function benchRoutes(app: Server, deps: RouteDeps & { system: ActorSystem }, instance: () => Instance): void {
  const echoReply = new TextEncoder().encode(JSON.stringify({ ok: true, value: { count: 1 } }));
  let echoing = false;
  const startEcho = async () => {
    if (echoing) return;
    echoing = true;
    const { nc } = instance().cluster!;
    const id = instance().config.instanceId;
    nc.subscribe(`bench.echo.${id}`, { callback: (_e, m) => void m.respond(echoReply) });
    await createDurableBaselineTable(deps.sql);
    for (const [echo, durable] of [
      ["echo-commit", commitEach(deps.sql)],
      ["echo-group-commit", commitGrouped(deps.sql)],
    ] as const) {
      const failed = (error: unknown) => deps.logger.error("the durable baseline's commit failed", { echo, error: String(error) });
      nc.subscribe(`bench.${echo}.${id}`, { callback: (_e, m) => void durable.commit(echo).then(() => m.respond(echoReply), failed) });
    }
  };
  route(app, deps, {
    method: "post",
    path: "/test/v1/bench/echo",
    role: "internal",
    handle: async () => {
      await startEcho();
      await instance().cluster!.nc.flush();
      return { status: 200, body: { subject: `bench.echo.${instance().config.instanceId}` } };
    },
  });

  route(app, deps, {
    method: "post",
    path: "/test/v1/bench/remote-asks",
    role: "internal",
    body: Run,
    handle: async ({ body }) => {
      const cluster = instance().cluster!;
      const remote: string[] = [];
      for (let n = 0; remote.length < 200; n++) {
        const id = `bench-${n}`;
        if (!cluster.placement.owns(cluster.placement.shardOf({ type: "counter", id }))) remote.push(id);
      }
      const result = await run(body.count, body.concurrency, (i) => deps.system.ask(`counter/${remote[i % remote.length]}`, { type: "increment" }));
      return { status: 200, body: result };
    },
  });

  route(app, deps, {
    method: "post",
    path: "/test/v1/bench/raw-nats",
    role: "internal",
    body: RawRun,
    handle: async ({ body }) => {
      const nc = instance().cluster!.nc;
      const payload = new TextEncoder().encode(JSON.stringify({ to: { type: "counter", id: "x" }, event: { type: "increment" }, messageId: "m", deadline: 0 }));
      const result = await run(body.count, body.concurrency, () => nc.request(`bench.${body.echo ?? "echo"}.${body.target}`, payload, { timeout: 5_000 }));
      return { status: 200, body: result };
    },
  });

  // A loaded event loop at its worst: synchronous work of `stall_ms` every `every_ms` (a long GC
  // pause, a huge JSON), for `for_ms`, starting now (the answer does not wait for the stalls).
  route(app, deps, {
    method: "post",
    path: "/test/v1/bench/stall-loop",
    role: "internal",
    body: Stalls,
    handle: async ({ body }) => {
      const until = performance.now() + body.for_ms;
      const stall = () => {
        const end = performance.now() + body.stall_ms;
        while (performance.now() < end);
        if (performance.now() < until) setTimeout(stall, Math.max(0, body.every_ms - body.stall_ms));
      };
      setTimeout(stall, 0);
      return { status: 202, body: {} };
    },
  });
}
