// Shared bench pieces: a closed-loop keep-alive HTTP/1.1 load generator in a child process, percentiles, the final JSON line.
import { fork } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import net from "node:net";
import { fileURLToPath } from "node:url";
import type { Histogram } from "prom-client";

export interface LoadSpec {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  origin: string;
  method: "GET" | "POST";
  /** `{n}` is replaced per request by a random integer in [0, spread). */
  path: string;
  spread?: number;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  errors: number;
  first_error?: string;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/**
 * The latency figures every bench reports, tails included, as `<name>_p50_ms`, `_p99_ms`,
 * `_p999_ms`, `_max_ms` (`name` empty: unprefixed). `sorted`: ascending milliseconds.
 * @example printResult({ ...latencyFigures("find", sortedMs) })
 */
export function latencyFigures(name: string, sorted: ArrayLike<number>, digits = 3): Record<string, number> {
  const key = (figure: string) => (name ? `${name}_${figure}_ms` : `${figure}_ms`);
  return {
    [key("p50")]: round(percentile(sorted, 50), digits),
    [key("p99")]: round(percentile(sorted, 99), digits),
    [key("p999")]: round(percentile(sorted, 99.9), digits),
    [key("max")]: round(sorted.length ? sorted[sorted.length - 1]! : NaN, digits),
  };
}

/** Sum and count of a histogram (every label together), to take deltas over a measured phase. */
export async function histogramTotals(h: Histogram | undefined): Promise<{ sum: number; count: number }> {
  const values = h ? (await h.get()).values : [];
  const pick = (suffix: string) => values.filter((v) => v.metricName?.endsWith(suffix)).reduce((a, v) => a + v.value, 0);
  return { sum: pick("_sum"), count: pick("_count") };
}

/** CPU seconds (user + system) a process has used so far, from Linux /proc (ticks of 10 ms); 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  return cpuSecondsOf(`/proc/${pid}/stat`);
}

function cpuSecondsOf(statFile: string): number {
  try {
    const stat = readFileSync(statFile, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of each of a process's threads: `main` (the process's own id) and the others by
 * thread id (Node names them all "node": the worker threads are the highest ids, V8's GC helpers
 * and libuv's pool the lowest after the main one).
 */
export function threadCpuSeconds(pid: number): Record<string, number> {
  const byThread: Record<string, number> = {};
  for (const task of readdirSync(`/proc/${pid}/task`)) byThread[Number(task) === pid ? "main" : task] = cpuSecondsOf(`/proc/${pid}/task/${task}/stat`);
  return byThread;
}

export const progress = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);
/** The bench's result: one JSON line, printed last on stdout. */
export const printResult = (result: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(result)}\n`);

/**
 * Runs `spec` from a child process (so the client never shares the server's event loop):
 * warm-up, then the measured phase; `onMeasureStart` fires when the measured phase begins.
 */
export function measure(spec: LoadSpec, onMeasureStart?: () => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--loadgen"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.on("message", (m: { phase: "measure" } | { result: LoadResult }) => {
      if ("phase" in m) onMeasureStart?.();
      else resolve(m.result);
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`load generator exited with ${code} before reporting`))); // no-op once resolved
    child.send(spec);
  });
}

const requestTimeoutMs = 10_000;

/** One keep-alive HTTP/1.1 connection, one request at a time (node:http's client costs ~4x more CPU, enough to bound the raw route). */
export class Connection {
  readonly #socket: net.Socket;
  #buffer = "";
  #pending: ((r: { status: number; body: string } | Error) => void) | undefined;

  constructor(host: string, port: number) {
    this.#socket = net.connect({ host, port, noDelay: true });
    this.#socket.setEncoding("latin1");
    this.#socket.setTimeout(requestTimeoutMs, () => this.#socket.destroy(new Error(`no response in ${requestTimeoutMs} ms`)));
    this.#socket.on("data", (chunk: string) => this.#read(chunk));
    this.#socket.on("error", (e) => this.#settle(e));
    this.#socket.on("close", () => this.#settle(new Error("connection closed")));
  }

  request(head: string, body: string): Promise<{ status: number; body: string } | Error> {
    return new Promise((resolve) => {
      this.#pending = resolve;
      this.#socket.write(head + body);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(chunk: string): void {
    this.#buffer += chunk;
    const end = this.#buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.#buffer.slice(0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.#settle(new Error(`response without content-length: ${head.slice(0, 200)}`));
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.#buffer.length < total) return;
    const body = this.#buffer.slice(end + 4, total);
    this.#buffer = this.#buffer.slice(total);
    this.#settle({ status: Number(head.slice(9, 12)), body });
  }

  #settle(result: { status: number; body: string } | Error): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.(result);
  }
}

async function runLoad(pool: Connection[], spec: LoadSpec, seconds: number, record: boolean): Promise<LoadResult> {
  const url = new URL(spec.origin);
  const body = spec.body ?? "";
  const headers = {
    host: url.host,
    ...spec.headers,
    ...(spec.body !== undefined ? { "content-type": "application/json" } : {}),
    "content-length": String(Buffer.byteLength(body)),
  };
  const headerText = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const until = started + seconds * 1000;
  const loop = async (connection: Connection) => {
    while (performance.now() < until) {
      const path = spec.path.replace("{n}", String(Math.floor(Math.random() * (spec.spread ?? 1))));
      const t0 = performance.now();
      const r = await connection.request(`${spec.method} ${path} HTTP/1.1\r\n${headerText}\r\n`, body);
      const ms = performance.now() - t0;
      if (r instanceof Error || r.status >= 300) {
        errors++;
        firstError ??= r instanceof Error ? String(r) : `${r.status} ${r.body.slice(0, 200)}`;
        if (r instanceof Error) return; // this connection is gone
      } else if (record) latencies.push(ms);
    }
  };
  await Promise.all(pool.map(loop));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: sorted.length,
    rps: Math.round(sorted.length / elapsed),
    ...(latencyFigures("", sorted) as Pick<LoadResult, "p50_ms" | "p99_ms" | "p999_ms" | "max_ms">),
    errors,
    ...(firstError ? { first_error: firstError } : {}),
  };
}

// Child side: one spec in, warm-up, `{phase}` then `{result}` out.
if (process.argv.includes("--loadgen") && process.send) {
  process.once("message", async (spec: LoadSpec) => {
    const url = new URL(spec.origin);
    const pool = Array.from({ length: spec.connections }, () => new Connection(url.hostname, Number(url.port)));
    if (spec.warmupSeconds > 0) await runLoad(pool, spec, spec.warmupSeconds, false);
    process.send!({ phase: "measure" });
    const result = await runLoad(pool, spec, spec.seconds, true);
    for (const c of pool) c.close();
    process.send!({ result }, () => process.exit(0));
  });
}

/**
 * Starts a capture of this process through the inspector; the returned function ends it and
 * writes the profile it returns to `path`.
 */
async function startCapture(
  path: string,
  start: (session: Session) => Promise<unknown>,
  stop: (session: Session) => Promise<{ profile: unknown }>,
): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await start(session);
  return async () => {
    const { profile } = await stop(session);
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
    progress(`profile written to ${path}`);
  };
}

/**
 * Starts sampling this process's heap allocations that outlive a young-generation collection:
 * those promoted to the old generation (or born there, as large strings are), whether a later
 * mark-compact collects them or not. What feeds the old generation is what makes mark-compacts
 * come often. The returned function stops it and writes the profile to `path` (Chrome DevTools'
 * Memory tab, or bench/heapSampleSummary.ts).
 */
export const startPromotionSampling = (path: string) =>
  startCapture(
    path,
    async (session) => {
      await session.post("HeapProfiler.enable");
      // Node's typings predate these two flags of the protocol.
      await session.post("HeapProfiler.startSampling", {
        samplingInterval: 16_384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: false,
      } as object);
    },
    (session) => session.post("HeapProfiler.stopSampling"),
  );

/** Starts a CPU profile of this process; the returned function stops it and writes it to `path` (open it in Chrome DevTools, or bench/profileSummary.ts). */
export const startProfile = (path: string) =>
  startCapture(
    path,
    async (session) => {
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    },
    (session) => session.post("Profiler.stop"),
  );
