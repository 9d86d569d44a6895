// Bench: 1,000 simulated cabinets polled every 10 s by one instance (real Postgres, a Mosquitto of
// its own with TCP_NODELAY). Measures the CPU share of one core the instance spends while only
// polling, then book+open through HTTP (two requests, two actor turns with commits, one MQTT unlock
// round trip, the accumulator moves) side by side with a raw MQTT request/response round trip to
// a simulated cabinet through the same broker, and that round trip between the two commits a
// minimal correct book+open must make (the booking, then the open: bench/durableBaseline.ts),
// alternating in the same run. The simulated cabinets run in a child process, as devices are
// elsewhere in production.
// BENCH_PROFILE=1 writes a CPU profile of the polling window to bench-cabinets-polling.cpuprofile;
// BENCH_CABINETS=10 measures what the idle instance itself costs in that window.
import http from "node:http";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { randomBytes, randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { loadavg } from "node:os";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import mqtt from "mqtt";
import { loadConfig } from "../config.ts";
import { startInstance } from "../instance.ts";
import { createLogger } from "../actors/logger.ts";
import { dropSchema, openPostgres } from "../storage/database.ts";
import { cabinetSpec, commandsTopic, startCabinetSimulator } from "../integrations/cabinet/index.ts";
import { startPrivateMosquitto } from "../test/support/privateMosquitto.ts";
import { commitEach, createDurableBaselineTable } from "./durableBaseline.ts";
import { latencyFigures, percentile, printResult, progress, round, startProfile } from "./scenario.ts";

const dbUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const cabinets = Number(process.env.BENCH_CABINETS ?? 1_000);
const pollMs = Number(process.env.BENCH_POLL_MS ?? 10_000);
const samples = Number(process.env.BENCH_SAMPLES ?? 1_000);
const quietSeconds = Number(process.env.BENCH_QUIET_SECONDS ?? 20);
const profilePolling = process.env.BENCH_PROFILE === "1";
const token = "bench-internal-token";
const RAW_PREFIX = "raw/";

async function startDevices(url: string, prefix: string): Promise<() => void> {
  const child = fork(fileURLToPath(import.meta.url), ["--devices"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`devices exited with ${code}`)));
    child.send({ url, prefix, count: cabinets });
  });
  return () => child.disconnect();
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function call(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const payload = body === undefined ? "" : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

async function main(): Promise<void> {
  const schema = `bench_cabinets_${randomBytes(4).toString("hex")}`;
  const db = await openPostgres({ url: dbUrl, schema, max: 10 });
  const broker = process.env.BENCH_MQTT_URL ? undefined : await startPrivateMosquitto();
  const mqttUrl = process.env.BENCH_MQTT_URL ?? broker!.url;
  const prefix = `bench${randomBytes(3).toString("hex")}/`;
  const stopDevices = await startDevices(mqttUrl, prefix);
  const instance = await startInstance(
    loadConfig({
      PORT: "0",
      AUTH_TOKENS: `internal=${token}`,
      DEMO_DATA: "false",
      CRM_SCHEMA: schema,
      MQTT_URL: mqttUrl,
      MQTT_TOPIC_PREFIX: prefix,
      CABINET_POLL_MS: String(pollMs),
      CABINET_COMMAND_TIMEOUT_MS: "5000",
      LOG_LEVEL: "silent",
    }),
    { db, logger: createLogger({ level: "silent" }) },
  );
  const raw = await mqtt.connectAsync(mqttUrl, { protocolVersion: 4 });
  (raw.stream as Socket).setNoDelay(true);
  try {
    progress(`registering ${cabinets} cabinets (poll every ${pollMs} ms)...`);
    const ids = Array.from({ length: cabinets }, (_, i) => `CAB-${i}`);
    for (let i = 0; i < ids.length; i += 16) {
      await Promise.all(
        ids.slice(i, i + 16).map((id, k) =>
          call(instance.port, "PUT", `/scooter-accumulator/v1/cabinets/${id}`, {
            lat: 55.6 + ((i + k) % 100) / 250,
            lon: 37.4 + Math.floor((i + k) / 100) / 25,
          }),
        ),
      );
    }
    for (;;) {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from cabinets where jsonb_array_length(cells) > 0`;
      if (row!.n === cabinets) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    progress("every cabinet has reported; letting polling settle for one interval...");
    await new Promise((r) => setTimeout(r, pollMs));

    // Polling alone: what one instance spends on 1,000 cabinets.
    const pollsBefore = await pollCount(instance);
    const stopProfile = profilePolling ? await startProfile("bench-cabinets-polling.cpuprofile") : undefined;
    const cpu = process.cpuUsage();
    const elu = performance.eventLoopUtilization();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, quietSeconds * 1000));
    const wallUs = (performance.now() - t0) * 1000;
    const used = process.cpuUsage(cpu);
    const pollingCpuShare = (used.user + used.system) / wallUs;
    const pollingElu = performance.eventLoopUtilization(elu).utilization;
    const pollingRssMb = round(process.memoryUsage().rss / 2 ** 20, 0);
    const pollingLoad = round(loadavg()[0]!, 2);
    await stopProfile?.();
    const pollsPerSecond = ((await pollCount(instance)) - pollsBefore) / (wallUs / 1e6);
    progress(`polling: ${round(pollsPerSecond, 1)} polls/s, cpu ${round(pollingCpuShare, 3)} of a core`);

    // Raw baseline: an inventory request/reply to a simulated cabinet through the same broker.
    const waiting = new Map<string, () => void>();
    raw.on("message", (_topic, payload) => {
      const { request_id } = JSON.parse(payload.toString()) as { request_id?: string };
      if (request_id) waiting.get(request_id)?.();
    });
    await raw.subscribeAsync(`${RAW_PREFIX}$devices/+/events`, { qos: 1 });
    const rawRoundTrip = (n: number) =>
      new Promise<number>((resolve) => {
        const request_id = randomUUID();
        const id = `RAW-${n % 10}`;
        const started = performance.now();
        waiting.set(request_id, () => {
          waiting.delete(request_id);
          resolve(performance.now() - started);
        });
        raw.publish(commandsTopic(RAW_PREFIX, id), JSON.stringify({ type: "inventory", request_id }), { qos: 0 });
      });

    // One book+open at a time: a grouped commit would gather nothing, so each is its own commit.
    await createDurableBaselineTable(db.sql);
    const durable = commitEach(db.sql);
    const rawDurableRoundTrip = async (n: number) => {
      const started = performance.now();
      await durable.commit("book");
      await rawRoundTrip(n);
      await durable.commit("open");
      return performance.now() - started;
    };

    progress(`book+open through HTTP vs raw MQTT round trips (alone, between two commits), ${samples} each, alternating...`);
    const bookOpen: number[] = [];
    const bookMs: number[] = [];
    const openMs: number[] = [];
    const rawMs: number[] = [];
    const rawDurableMs: number[] = [];
    /** The slowest samples: when (ms since start, as --trace-gc prints) and how long each half took. */
    const slowest: { at: number; book: number; open: number; cabinet: string; epochMs: number }[] = [];
    let errors = 0;
    let firstError: string | undefined;
    // How long the event loop could not run a timer on time (GC pauses, long tasks) while booking.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    // Every GC pause of this process (the instance's) while booking, and the kinds of the long ones.
    const gcPauses: number[] = [];
    const longGcs: string[] = [];
    const gcKinds: Record<number, string> = { 1: "scavenge", 2: "minor-ms", 4: "mark-compact", 8: "incremental", 16: "weak-callbacks" };
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gcPauses.push(e.duration);
        const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
        if (e.duration >= 20) longGcs.push(`${Math.round(e.startTime)}:${gcKinds[kind] ?? kind}:${Math.round(e.duration)}`);
      }
    });
    let commitsBefore: CommitTotals | undefined;
    for (let i = 0; i < samples + 100; i++) {
      if (i === 100) {
        commitsBefore = await commitTotals(instance);
        loopDelay.enable();
        gcObserver.observe({ entryTypes: ["gc"] });
      }
      const cabinet = ids[Math.floor(Math.random() * ids.length)]!;
      const started = performance.now();
      const booked = await call(instance.port, "POST", `/scooter-accumulator/v1/cabinets/${cabinet}/bookings`, {
        kind: "issue",
        count: 1,
        contractor_id: `tech-${i % 50}`,
        min_charge: 0,
      });
      const bookedAt = performance.now();
      const opened =
        booked.status === 201
          ? await call(instance.port, "POST", `/scooter-accumulator/v1/cabinets/${cabinet}/bookings/${booked.body.booking_id}/open`)
          : booked;
      const ms = performance.now() - started;
      if (opened.status !== 200) {
        errors++;
        firstError ??= `${opened.status} ${JSON.stringify(opened.body).slice(0, 200)}`;
      }
      const rawOne = await rawRoundTrip(i);
      const rawDurableOne = await rawDurableRoundTrip(i);
      // the first 100 warm up
      if (i >= 100) {
        bookOpen.push(ms);
        bookMs.push(bookedAt - started);
        openMs.push(started + ms - bookedAt);
        rawMs.push(rawOne);
        rawDurableMs.push(rawDurableOne);
        slowest.push({
          at: Math.round(started),
          book: round(bookedAt - started, 1),
          open: round(started + ms - bookedAt, 1),
          cabinet,
          epochMs: performance.timeOrigin + started,
        });
        slowest.sort((a, b) => b.book + b.open - (a.book + a.open));
        slowest.length = Math.min(slowest.length, 12);
      }
    }
    loopDelay.disable();
    gcObserver.disconnect();
    const commitsAfter = await commitTotals(instance);
    const commits = commitsAfter.count - commitsBefore!.count;
    progress(`GC pauses >= 20 ms while booking (at ms since start:kind:ms): ${longGcs.join(" ")}`);
    for (const list of [bookOpen, bookMs, openMs, rawMs, rawDurableMs]) list.sort((a, b) => a - b);
    progress(`slowest book+open samples (at ms since start, book ms, open ms): ${slowest.map((s) => `${s.at}:${s.book}+${s.open}`).join(" ")}`);
    // Where the slowest ones waited: the cabinet actor's turns (journal, ms after the request began).
    for (const s of slowest.slice(0, 5)) {
      const turns = await db.sql<{ type: string; at: Date }[]>`select event->>'type' as type, at from actor_journal
        where actor_type = 'cabinet' and actor_id = ${s.cabinet} and at >= ${new Date(s.epochMs - 1)} and at <= ${new Date(s.epochMs + s.book + s.open + 1)}
        order by seq`;
      progress(`  ${s.cabinet} ${s.book}+${s.open} ms: ${turns.map((t) => `${t.type}@${Math.round(t.at.getTime() - s.epochMs)}`).join(" ")}`);
    }

    printResult({
      bench: "cabinets",
      cabinets,
      poll_interval_ms: pollMs,
      polls_per_s: round(pollsPerSecond, 1),
      polling_cpu_share: round(pollingCpuShare, 3),
      polling_event_loop_utilisation: round(pollingElu, 3),
      // Nothing but polling happens in that window: the cost of the idle instance with its cabinets.
      polling_rss_mb: pollingRssMb,
      polling_load_average: pollingLoad,
      samples: bookOpen.length,
      ...latencyFigures("book_open", bookOpen),
      ...latencyFigures("book", bookMs),
      ...latencyFigures("open", openMs),
      ...latencyFigures("raw_mqtt", rawMs),
      ...latencyFigures("raw_mqtt_commit", rawDurableMs),
      loop_delay_p99_ms: round(loopDelay.percentile(99) / 1e6, 1),
      loop_delay_max_ms: round(loopDelay.max / 1e6, 1),
      // The snapshot commits of every actor while booking: a reply waits for its turn's commit.
      commits,
      commit_batch_mean: round((commitsAfter.rows - commitsBefore!.rows) / Math.max(1, commits), 1),
      commit_tx_mean_ms: round(((commitsAfter.seconds - commitsBefore!.seconds) * 1000) / Math.max(1, commits), 1),
      commits_over_50ms: commitsAfter.over50ms - commitsBefore!.over50ms,
      gc_pauses: gcPauses.length,
      gc_pause_total_ms: Math.round(gcPauses.reduce((a, b) => a + b, 0)),
      gc_pause_max_ms: round(Math.max(0, ...gcPauses), 1),
      p50_ratio: round(percentile(bookOpen, 50) / percentile(rawMs, 50), 1),
      p99_ratio: round(percentile(bookOpen, 99) / percentile(rawMs, 99), 1),
      p99_ratio_vs_durable: round(percentile(bookOpen, 99) / percentile(rawDurableMs, 99), 2),
      errors,
      ...(firstError ? { first_error: firstError } : {}),
    });
  } finally {
    agent.destroy();
    await raw.endAsync(true).catch(() => {});
    await instance.stop().catch(() => {});
    stopDevices();
    await broker?.close();
    await db.close().catch(() => {});
    await dropSchema(dbUrl, schema).catch((e) => progress(`drop schema failed: ${String(e)}`));
  }
}

interface CommitTotals {
  count: number;
  rows: number;
  seconds: number;
  over50ms: number;
}

/** The runtime's snapshot commits so far: transactions, rows, time, and those longer than 50 ms. */
async function commitTotals(instance: { registry: import("prom-client").Registry }): Promise<CommitTotals> {
  const values = async (name: string) => (await instance.registry.getSingleMetric(name)!.get()).values;
  const seconds = await values("fleet_snapshot_commit_seconds");
  const rows = await values("fleet_snapshot_commit_batch_size");
  const pick = (list: typeof seconds, suffix: string, le?: number) =>
    list
      .filter((v) => (v as { metricName?: string }).metricName?.endsWith(suffix) && (le === undefined || v.labels.le === le))
      .reduce((sum, v) => sum + v.value, 0);
  const count = pick(seconds, "_count");
  return { count, rows: pick(rows, "_sum"), seconds: pick(seconds, "_sum"), over50ms: count - pick(seconds, "_bucket", 0.05) };
}

async function pollCount(instance: { registry: import("prom-client").Registry }): Promise<number> {
  const metric = await instance.registry.getSingleMetric("fleet_cabinet_polls_total")!.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

if (process.argv.includes("--devices") && process.send) {
  // Child: the fleet of cabinets, plus a few under another prefix for the raw baseline.
  process.once("message", async (m: { url: string; prefix: string; count: number }) => {
    const fleet = await startCabinetSimulator({
      url: m.url,
      prefix: m.prefix,
      cabinets: Array.from({ length: m.count }, (_, i) => cabinetSpec(`CAB-${i}`, { cells: 12, charged: 10 })),
    });
    const raw = await startCabinetSimulator({ url: m.url, prefix: RAW_PREFIX, cabinets: Array.from({ length: 10 }, (_, i) => cabinetSpec(`RAW-${i}`)) });
    process.send!({ ready: true });
    process.on("disconnect", () => void Promise.all([fleet.close(), raw.close()]).finally(() => process.exit(0)));
  });
} else {
  await main();
}
