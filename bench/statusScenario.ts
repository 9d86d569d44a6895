// Shared pieces of bench:status: the partner simulators (KRT, driver-profiles, driver-categories,
// trackstory) in a child process holding the bench's drivers, and a status publisher in another
// child process, so neither shares the measured instance's event loop. Both run at a lower
// priority (BENCH_RIG_NICE, default 10): on a machine of few cores they are the rig, not the
// system under test, and take the CPU the instance, NATS and Postgres leave.
import { fork, type ChildProcess } from "node:child_process";
import { setPriority } from "node:os";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PerformanceObserver } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { processCpuSeconds } from "./scenario.ts";
import { startDriverStatusPartners, type DriverStatusPartnerUrls } from "../test/support/driverStatusPartners.ts";

/** The bench's drivers: 500 parks; a tenth in cargo only (filtered), a tenth in Saint Petersburg (filtered). */
export const driverOf = (i: number) => ({ park_id: `park-${i % 500}`, driver_id: `d${i}`, licence: `pd-${i}`, krtId: String(1_000_000_000 + i) });
const inScope = (i: number) => ({ cargo: i % 10 === 3, away: i % 10 === 7 });

async function runPartners(drivers: number): Promise<DriverStatusPartnerUrls> {
  const { krt, profiles, categories, trackstory, env } = await startDriverStatusPartners();
  for (let i = 0; i < drivers; i++) {
    const d = driverOf(i);
    const { cargo, away } = inScope(i);
    profiles.upsert([{ park_id: d.park_id, driver_id: d.driver_id, driver_license_pd_id: d.licence }]);
    categories.set([{ park_id: d.park_id, driver_id: d.driver_id, categories: cargo ? ["cargo"] : ["econom", "comfort"] }]);
    const jitter = ((i * 7919) % 1000) / 10_000;
    trackstory.move([
      { park_id: d.park_id, driver_id: d.driver_id, ...(away ? { lat: 59.9 + jitter, lon: 30.3 + jitter } : { lat: 55.7 + jitter, lon: 37.5 + jitter }) },
    ]);
    krt.register(d.krtId, `77BN${i}`);
  }
  return env;
}

type Status = "online" | "busy" | "offline";

/**
 * Publishes statuses at `rate`/s for `seconds` on `subject` (core NATS; the stream stores them),
 * each driver's status moving as a driver's does: offline -> online; online -> busy (60%) or
 * offline (40%); busy -> online. `updated_at` is the publish time. `burst` statuses go at once
 * first, as fast as NATS takes them (a hiccup's worth of input arriving together).
 */
async function runPublisher(natsUrl: string, drivers: number): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  const states: Status[] = Array.from({ length: drivers }, () => "offline");
  const next = (s: Status): Status => (s === "offline" ? "online" : s === "busy" ? "online" : Math.random() < 0.6 ? "busy" : "offline");
  // The JSON of a status is assembled from a prefix per driver: the rig should not take CPU the
  // measured instance could use (JSON.stringify per message doubled the publisher's cost).
  const prefixes = Array.from({ length: drivers }, (_, i) => {
    const d = driverOf(i);
    return `{"park_id":${JSON.stringify(d.park_id)},"driver_id":${JSON.stringify(d.driver_id)},"status":"`;
  });
  process.on("message", async (m: { subject: string; rate: number; seconds: number; drivers: number; burst: number }) => {
    const started = performance.now();
    let published = 0;
    while (performance.now() - started < m.seconds * 1000) {
      const due = m.burst + Math.floor(((performance.now() - started) / 1000) * m.rate);
      const suffix = `","updated_at":"${new Date().toISOString()}"}`;
      for (; published < due; published++) {
        const i = Math.floor(Math.random() * Math.min(m.drivers, drivers));
        states[i] = next(states[i]!);
        nc.publish(m.subject, prefixes[i] + states[i] + suffix);
      }
      await nc.flush();
      await new Promise((r) => setTimeout(r, 2));
    }
    await nc.flush();
    process.send!({ published: published - m.burst, elapsed_ms: performance.now() - started });
  });
  process.send!({ ready: true });
}

const rigNice = Number(process.env.BENCH_RIG_NICE ?? 10);

function forkSelf(args: string[]): ChildProcess {
  const child = fork(fileURLToPath(import.meta.url), args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  if (rigNice && child.pid) setPriority(child.pid, rigNice);
  return child;
}

export async function startPartnersProcess(drivers: number): Promise<{ urls: DriverStatusPartnerUrls; pid: number; stop(): void }> {
  const child = forkSelf(["--partners", String(drivers)]);
  const urls = await new Promise<DriverStatusPartnerUrls>((resolve, reject) => {
    child.once("message", (m) => resolve(m as DriverStatusPartnerUrls));
    child.once("exit", (code) => reject(new Error(`partners exited with ${code}`)));
  });
  return { urls, pid: child.pid!, stop: () => child.kill() };
}

export interface Publisher {
  readonly pid: number;
  /**
   * Publishes at `rate`/s for `seconds` for the first `drivers` drivers (default all), after
   * `burst` at once (default none); resolves with what was published at the rate (the burst not counted).
   */
  run(subject: string, rate: number, seconds: number, options?: { drivers?: number; burst?: number }): Promise<{ published: number; elapsed_ms: number }>;
  stop(): void;
}

export async function startPublisherProcess(natsUrl: string, drivers: number): Promise<Publisher> {
  const child = forkSelf(["--publisher", natsUrl, String(drivers)]);
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`publisher exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    run: (subject, rate, seconds, { drivers: subset = drivers, burst = 0 } = {}) =>
      new Promise((resolve) => {
        child.once("message", (m) => resolve(m as { published: number; elapsed_ms: number }));
        child.send({ subject, rate, seconds, drivers: subset, burst });
      }),
    stop: () => child.kill(),
  };
}

export interface Lag {
  /** Stored, not yet delivered to the consumer. */
  undelivered: number;
  /** Delivered, not yet acknowledged (held by the pipeline). */
  unacked: number;
  /** Messages delivered more than once so far (ack wait expired, or handed back). */
  redelivered: number;
}

export async function consumerLag(jsm: JetStreamManager, stream: string, consumer: string): Promise<Lag> {
  const info = await jsm.consumers.info(stream, consumer);
  return { undelivered: info.num_pending, unacked: info.num_ack_pending, redelivered: info.num_redelivered };
}

/** One second of a step as the stream, the consumer and the instance saw it (see `statusTimeline`). */
export interface TimelineRow {
  /** Seconds since the timeline started. */
  t: number;
  /** Per second: stored in the stream (published), delivered to the consumer, acknowledged (ack floor). */
  stored: number;
  delivered: number;
  acked: number;
  /** Per second: settled by the pipeline, by outcome (told, superseded, repeat, ...). */
  settled: number;
  undelivered: number;
  unacked: number;
  redelivered: number;
  /** The instance's main thread: event-loop utilisation, GC pause ms in the second; heap used MB. */
  elu: number;
  gc_ms: number;
  heap_mb: number;
  /** Cores each process of the run used in the second, by role (see `cpuByRole`). */
  cores: Record<string, number>;
  /** Whatever else the caller samples (e.g. KRT calls waiting). */
  extra: Record<string, number>;
}

/**
 * Samples, once a second, what happens to a step's statuses: what the publisher got stored, what
 * the consumer was handed and acknowledged, what the pipeline settled, and what the instance's
 * main thread did meanwhile. Shows whether a step that fell behind was short of input (the
 * publisher), of deliveries (JetStream's ack limit) or of CPU (the instance).
 */
export function statusTimeline(
  jsm: JetStreamManager,
  names: { stream: string; consumer: string },
  pids: RunPids,
  settledSoFar: () => Promise<number>,
  extra: () => Promise<Record<string, number>> = async () => ({}),
): { stop(): Promise<TimelineRow[]> } {
  const rows: TimelineRow[] = [];
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  const read = async () => {
    const [stream, consumer, settled] = await Promise.all([jsm.streams.info(names.stream), jsm.consumers.info(names.stream, names.consumer), settledSoFar()]);
    return {
      at: performance.now(),
      stored: stream.state.last_seq,
      delivered: consumer.delivered.stream_seq,
      acked: consumer.ack_floor.stream_seq,
      settled,
      consumer,
      elu: performance.eventLoopUtilization(),
      gcMs,
      cpu: cpuByRole(pids),
    };
  };
  let previous = read();
  const started = performance.now();
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(async () => {
      const before = await previous;
      const now = read();
      previous = now;
      const after = await now;
      const s = (after.at - before.at) / 1000;
      const perSecond = (a: number, b: number) => Math.round((a - b) / s);
      rows.push({
        t: Math.round((after.at - started) / 100) / 10,
        stored: perSecond(after.stored, before.stored),
        delivered: perSecond(after.delivered, before.delivered),
        acked: perSecond(after.acked, before.acked),
        settled: perSecond(after.settled, before.settled),
        undelivered: after.consumer.num_pending,
        unacked: after.consumer.num_ack_pending,
        redelivered: after.consumer.num_redelivered,
        elu: Math.round(performance.eventLoopUtilization(after.elu, before.elu).utilization * 100) / 100,
        gc_ms: Math.round(after.gcMs - before.gcMs),
        heap_mb: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
        cores: Object.fromEntries(Object.entries(cpuDelta(before.cpu, after.cpu)).map(([role, cpu]) => [role, Math.round((cpu / s) * 100) / 100])),
        extra: await extra(),
      });
    });
  }, 1_000);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      gcObserver.disconnect();
      return rows;
    },
  };
}

export async function natsManager(natsUrl: string): Promise<{ jsm: JetStreamManager; close(): Promise<void> }> {
  const nc = await connect({ servers: natsUrl });
  return { jsm: await jetstreamManager(nc), close: () => nc.close() };
}

/** The processes of a run that are its own: the instance (this process), the partners and the publisher. */
export interface RunPids {
  instance: number;
  partners: number;
  publisher: number;
}

/**
 * CPU seconds used so far by the processes of the run, by role (Linux /proc; ticks of 10 ms):
 * the bench's own process (the instance), Postgres backends, nats-server, partners, publisher,
 * and `other`: whatever else the machine ran meanwhile (its total from /proc/stat less those).
 * `other` is no cost of the run: it says when something outside took cores from it, which is
 * what makes two runs on the same machine disagree.
 */
export function cpuByRole(pids: RunPids): Record<string, number> {
  const byName = (name: string) =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/comm`, "utf8").trim() === name;
        } catch {
          return false;
        }
      })
      .reduce((sum, p) => sum + processCpuSeconds(Number(p)), 0);
  const roles = {
    instance: processCpuSeconds(pids.instance),
    postgres: byName("postgres"),
    nats: byName("nats-server"),
    partners: processCpuSeconds(pids.partners),
    publisher: processCpuSeconds(pids.publisher),
  };
  return { ...roles, other: machineCpuSeconds() - Object.values(roles).reduce((a, b) => a + b, 0) };
}

/** CPU seconds the whole machine has been busy (every core: user, system, interrupts, steal; not idle or I/O wait). */
function machineCpuSeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

export const cpuDelta = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]));

if (process.argv[2] === "--partners" && process.send) {
  process.send(await runPartners(Number(process.argv[3])));
} else if (process.argv[2] === "--publisher" && process.send) {
  await runPublisher(process.argv[3]!, Number(process.argv[4]));
}
