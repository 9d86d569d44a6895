// bench:ask's comparison: the same job on Restate (a Virtual Object `counter` per key, its state in Restate's own
// log and RocksDB), with the same load. The restate-server and the SDK endpoint run in child processes of their
// own; the server's base dir is a fresh temporary directory, removed at the end.
import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { arch, platform, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as restate from "@restatedev/restate-sdk";
import { type LoadResult, type LoadSpec, measure, processCpuSeconds, progress, round } from "./scenario.ts";

/** The same job as bench:ask's counter actor: read the count, add, store it durably, reply with it. */
const counter = restate.object({
  name: "counter",
  handlers: {
    increment: async (ctx: restate.ObjectContext, request: { by?: number }) => {
      const count = ((await ctx.get<number>("count")) ?? 0) + (request.by ?? 1);
      ctx.set("count", count);
      return { count };
    },
  },
});

const startupTimeoutMs = 60_000;

/** The seconds a Restate phase may take beyond its load: server start, discovery, shutdown. */
export const restateOverheadSeconds = startupTimeoutMs / 1000 + 15;

function serverBinary(): string {
  const pkg = `@restatedev/restate-server-${platform()}-${arch()}`;
  try {
    return createRequire(import.meta.url).resolve(`${pkg}/bin/restate-server`);
  } catch {
    throw new Error(
      `no restate-server binary for ${platform()}-${arch()} (${pkg}, an optional dependency of @restatedev/restate-server, is not installed; BENCH_RESTATE=0 skips this phase)`,
    );
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitUntilHealthy(url: string, process: ChildProcess): Promise<void> {
  const deadline = Date.now() + startupTimeoutMs;
  while (Date.now() < deadline) {
    if (process.exitCode !== null || process.signalCode !== null)
      throw new Error(`restate-server exited (${process.exitCode ?? process.signalCode}) before ${url} answered`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} not healthy after ${startupTimeoutMs} ms`);
}

function startEndpoint(): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ["--restate-endpoint"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, RESTATE_LOGGING: "WARN" }, // not a line per invocation
  });
  return new Promise((resolve, reject) => {
    child.once("message", (port: number) => resolve({ child, port }));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`Restate SDK endpoint exited with ${code} before listening`)));
  });
}

/** A running restate-server and SDK endpoint, the deployment registered; `stop` kills both and removes the base dir. */
async function startRestate(): Promise<{ ingress: string; pids: [server: number, endpoint: number]; stop(): void }> {
  const baseDir = mkdtempSync(join(tmpdir(), "bench-restate-"));
  const children: ChildProcess[] = [];
  const interrupted = () => {
    stop();
    process.exit(130);
  };
  const stop = () => {
    process.off("exit", stop).off("SIGINT", interrupted).off("SIGTERM", interrupted);
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(baseDir, { recursive: true, force: true });
  };
  // Also when the bench's watchdog exits the process, or it is interrupted, mid-phase.
  process.once("exit", stop).once("SIGINT", interrupted).once("SIGTERM", interrupted);
  try {
    const [ingressPort, adminPort, nodePort] = [await freePort(), await freePort(), await freePort()];
    const server = spawn(serverBinary(), ["--base-dir", baseDir, "--listen-mode", "tcp", "--no-logo", "--node-name", "bench"], {
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingressPort}`,
        RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${adminPort}`,
        RESTATE_BIND_ADDRESS: `127.0.0.1:${nodePort}`,
        RESTATE_ADVERTISED_ADDRESS: `http://127.0.0.1:${nodePort}/`,
        RESTATE_LOG_FILTER: "error,octocrab=off", // its check for a newer release fails without network: harmless
        RESTATE_DISABLE_TELEMETRY: "true",
      },
    });
    children.push(server);
    const endpoint = await startEndpoint();
    children.push(endpoint.child);
    const admin = `http://127.0.0.1:${adminPort}`;
    const ingress = `http://127.0.0.1:${ingressPort}`;
    await waitUntilHealthy(`${admin}/health`, server);
    await waitUntilHealthy(`${ingress}/restate/health`, server);
    const registered = await fetch(`${admin}/deployments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ uri: `http://127.0.0.1:${endpoint.port}` }),
    });
    if (!registered.ok) throw new Error(`registering the deployment: ${registered.status} ${await registered.text()}`);
    return { ingress, pids: [server.pid!, endpoint.child.pid!], stop };
  } catch (e) {
    stop();
    throw e;
  }
}

/** The load of `spec` (its connections, keys, warm-up and duration) against Restate's ingress; cores of the server and of the endpoint. */
export async function measureRestate(
  spec: Pick<LoadSpec, "connections" | "warmupSeconds" | "seconds" | "spread" | "body">,
): Promise<LoadResult & { server_cpu_cores: number; endpoint_cpu_cores: number }> {
  const restateRun = await startRestate();
  try {
    progress(`Restate up (ingress ${restateRun.ingress}), deployment registered`);
    const [serverPid, endpointPid] = restateRun.pids;
    const cpuSeconds = () => [processCpuSeconds(serverPid), processCpuSeconds(endpointPid)];
    let before = [0, 0];
    let measuredFrom = 0;
    const result = await measure({ ...spec, method: "POST", origin: restateRun.ingress, path: "/counter/{n}/increment" }, () => {
      before = cpuSeconds();
      measuredFrom = performance.now();
    });
    const elapsed = (performance.now() - measuredFrom) / 1000;
    const [server, endpoint] = cpuSeconds().map((seconds, i) => round((seconds - before[i]!) / elapsed, 2));
    return { ...result, server_cpu_cores: server!, endpoint_cpu_cores: endpoint! };
  } finally {
    restateRun.stop();
  }
}

// Child side: the SDK endpoint, its port sent to the parent; it ends with the parent.
if (process.argv.includes("--restate-endpoint") && process.send) {
  const port = await restate.endpoint().bind(counter).listen(0);
  process.on("disconnect", () => process.exit());
  process.send(port);
}
