// Bench: driver statuses to KRT on one instance against real NATS JetStream, Postgres and the
// partner simulators (KRT included), over 50,000 drivers.
//  1. At the seed's 220 events/s: lag from publish (= updated_at) to the KRT call, and KRT calls per event.
//  2. Sustained ingest: live publishing in rising steps, each opening with a burst of
//     BENCH_STEP_BURST_SECONDS (2) of its input at once, as after a hiccup (a long GC, a slow
//     commit); a step holds when, at its end, less than half a second of input is still
//     undelivered and the lag no longer grows: the instance works off a hiccup's backlog and
//     keeps up with the rate. A step that falls behind is run once more from an empty pipeline
//     (BENCH_BEHIND_RETRIES); once it falls behind again, the search bisects between it and the
//     highest held down to BENCH_SEARCH_RESOLUTION (6%); the highest step that holds is reported.
//     Past the ladder's top (BENCH_STEPS) the rate keeps rising by half until a step falls behind
//     (BENCH_UNTIL_BEHIND=false: not), so the figure is a ceiling, not the ladder's end (a quiet
//     machine held its 25,000/s top).
//  3. The raw baseline (take from JetStream, decode, ack: nothing else) on rising steps, past its
//     ladder by half until one falls behind (not bisected), in the same run: our rate as a ratio
//     to it does not depend on the machine's speed that day.
//  4. The seed's original design (each event upserted into `status_queue`, a periodic task
//     draining it to KRT) on rising steps until it falls behind, bisected as ours, and the ratio.
//  5. Overload: twice the sustained rate offered for a step; what is consumed, as a share of the
//     sustained rate (it should stay near the capacity, never collapse).
//  6. Idle: the instance's CPU and RSS with every driver bound and seen, once the load is over
//     and the sessions are asleep; and its CPU at the seed's 220/s.
// BENCH_PROFILE=<window>,... writes a CPU profile of our instance during each window named to
// bench-status-<window>.cpuprofile (open it in Chrome DevTools): a step's rate, `overload`, `220`
// (the seed's rate) or `idle`. The overload step prints its timeline, a line a second (see
// `statusTimeline`); BENCH_TIMELINE=true prints it for our every step. BENCH_PROMOTION=<window>,...
// samples what the instance's allocations feed the old generation during each window, to
// bench-status-<window>.heapprofile (read it with bench/heapSampleSummary.ts); not with BENCH_PROFILE
// in the same window.
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Histogram } from "prom-client";
import { loadConfig } from "../config.ts";
import { startInstance } from "../instance.ts";
import { createLogger } from "../actors/logger.ts";
import { dropSchema, openPostgres } from "../storage/database.ts";
import { KrtClient, memoryTokenStore, type KrtCall } from "../integrations/krt/index.ts";
import { DriverProfilesClient, driverProfilesCache } from "../integrations/driverProfiles/index.ts";
import { DriverCategoriesClient, driverCategoriesCache } from "../integrations/driverCategories/index.ts";
import { TrackstoryClient } from "../integrations/trackstory/index.ts";
import {
  histogramTotals,
  latencyFigures,
  percentile,
  printResult,
  progress,
  round,
  startProfile,
  startPromotionSampling,
  threadCpuSeconds,
} from "./scenario.ts";
import {
  consumerLag,
  cpuByRole,
  cpuDelta,
  driverOf,
  natsManager,
  startPartnersProcess,
  startPublisherProcess,
  statusTimeline,
  type Lag,
  type TimelineRow,
} from "./statusScenario.ts";
import { startNaiveStatusQueue } from "./statusQueue.naive.ts";
import { startRawConsumer } from "./statusRaw.ts";

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const drivers = Number(process.env.BENCH_DRIVERS ?? 50_000);
const stepSeconds = Number(process.env.BENCH_STEP_SECONDS ?? 15);
const lagSeconds = Number(process.env.BENCH_LAG_SECONDS ?? 30);
const debounceMs = Number(process.env.BENCH_DEBOUNCE_MS ?? 1_000);
const maxDelayMs = Number(process.env.BENCH_MAX_DELAY_MS ?? 5_000);
const krtRate = Number(process.env.BENCH_KRT_RATE ?? 200);
/** The 220/s phase runs over this many drivers (warmed up first, so KRT already knows their state). */
const lagDrivers = Number(process.env.BENCH_LAG_DRIVERS ?? 2_000);
const maxAckPending = Number(process.env.BENCH_MAX_ACK_PENDING ?? 40_000);
/** Where the instance takes and decodes statuses (`STATUS_INGEST`): its own worker thread, or the main one. */
const ingest = process.env.BENCH_INGEST === "main" ? "main" : "worker";
const pullBatch = 1_000;
const steps = (process.env.BENCH_STEPS ?? "1000,2000,3000,4000,5000,6000,8000,10000,12000,15000,20000,25000").split(",").filter(Boolean).map(Number);
/** Past the last given step, ours and raw keep rising by half until one falls behind (false: the ladder only, for quick A/B runs). */
const ceilingSearch = process.env.BENCH_UNTIL_BEHIND !== "false";
const rawSteps = (process.env.BENCH_RAW_STEPS ?? "5000,10000,15000,20000,25000,30000,40000").split(",").filter(Boolean).map(Number);
const profileWindow = async (name: string) => {
  const named = (variable: string) => (process.env[variable] ?? "").split(",").includes(name);
  if (named("BENCH_PROFILE")) return await startProfile(`bench-status-${name}.cpuprofile`);
  if (named("BENCH_PROMOTION")) return await startPromotionSampling(`bench-status-${name}.heapprofile`);
  return undefined;
};
const timelineEveryStep = process.env.BENCH_TIMELINE === "true";
/** Given steps first; past the last, the naive design keeps rising by half until it falls behind. */
const naiveSteps = (process.env.BENCH_NAIVE_STEPS ?? "250,500,750,1000,1500,2000,3000,4000").split(",").filter(Boolean).map(Number);
const naiveCeilingSearch = process.env.BENCH_NAIVE_UNTIL_BEHIND !== "false";
/**
 * Once a step falls behind, the search bisects between the highest rate held and the lowest that
 * fell behind until they are this close (a share of the latter): a ladder step near the top is
 * 20-25%, too coarse for two runs to agree within 15%.
 */
const searchResolution = Number(process.env.BENCH_SEARCH_RESOLUTION ?? 0.06);
/**
 * A step that falls behind is run again this many times, from an empty pipeline, before the
 * search takes it as behind: one transient (a full GC of a large heap, a burst of promised KRT
 * turns coming due) must not settle the bisection below what the instance holds.
 */
const behindRetries = Number(process.env.BENCH_BEHIND_RETRIES ?? 1);
/**
 * Seconds of a step's input published at once as it opens, as after a hiccup (a mark-compact of
 * a 1.5 GB heap piled up 16,000-25,000 statuses at 10,000/s in bench/README.md's runs): a rate
 * holds only when the instance works such a backlog off within the step and keeps up after it,
 * not only when the step happens to start with empty buffers and to see no long pause. 0: no burst.
 */
const burstSeconds = Number(process.env.BENCH_STEP_BURST_SECONDS ?? 2);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
const tag = randomBytes(4).toString("hex");
const schema = `bench_status_${tag}`;
const names = {
  stream: `BENCH_STATUS_${tag}`,
  subject: `bench${tag}.statuses.events`,
  consumer: `krt-${tag}`,
  deadLetterStream: `BENCH_STATUS_${tag}_DEAD`,
  deadLetterSubject: `bench${tag}.statuses.dead`,
};
const rawNames = {
  ...names,
  stream: `BENCH_RAW_${tag}`,
  subject: `bench${tag}.raw.events`,
  consumer: `raw-${tag}`,
  deadLetterStream: `BENCH_RAW_${tag}_DEAD`,
  deadLetterSubject: `bench${tag}.raw.dead`,
};
const naiveNames = {
  ...names,
  stream: `BENCH_NAIVE_${tag}`,
  subject: `bench${tag}.naive.events`,
  consumer: `naive-${tag}`,
  deadLetterStream: `BENCH_NAIVE_${tag}_DEAD`,
  deadLetterSubject: `bench${tag}.naive.dead`,
};

const limitMs = 40 * 60_000;
setTimeout(() => {
  progress(`watchdog: no result after ${limitMs} ms, giving up`);
  void dropSchema(url, schema).finally(() => process.exit(2));
}, limitMs).unref();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A full GC on demand, for the memory figures only (the npm script does not expose it). */
function fullGc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

const mb = (bytes: number) => round(bytes / 2 ** 20, 0);

/**
 * Where this process's RSS is: the main isolate's young generation (committed semi-spaces) and
 * the rest of its heap, read before and after a full GC, and what lies outside that heap (the
 * ingest worker's isolate, native buffers, code).
 */
function memoryBreakdown(): Record<string, number> {
  const read = () => {
    const spaces = getHeapSpaceStatistics();
    const newSpace = spaces.find((s) => s.space_name === "new_space")!;
    const heap = spaces.reduce((sum, s) => sum + s.physical_space_size, 0);
    return { rss: process.memoryUsage().rss, newSpace: newSpace.physical_space_size, heap, used: spaces.reduce((sum, s) => sum + s.space_used_size, 0) };
  };
  const before = read();
  fullGc();
  const after = read();
  return {
    rss_mb: mb(before.rss),
    new_space_committed_mb: mb(before.newSpace),
    heap_committed_mb: mb(before.heap),
    heap_used_mb: mb(before.used),
    rss_after_gc_mb: mb(after.rss),
    heap_committed_after_gc_mb: mb(after.heap),
    heap_live_after_gc_mb: mb(after.used),
    outside_main_heap_mb: mb(after.rss - after.heap),
  };
}

interface StepFigures {
  rate: number;
  consumed_per_s: number;
  cpu_ms_per_1000: Record<string, number>;
}

/** Cores the roles `counted` took at a step: the CPU per 1,000 statuses times the statuses consumed. */
const coresOf = (step: StepFigures | undefined, counted: (role: string) => boolean) =>
  step ? round((Object.entries(step.cpu_ms_per_1000).reduce((sum, [role, ms]) => (counted(role) ? sum + ms : sum), 0) * step.consumed_per_s) / 1e6, 2) : null;
/**
 * Cores the run's own processes kept busy at a step: with about all of the machine's cores busy,
 * the machine is the ceiling there, not the instance.
 */
const coresBusy = (step: StepFigures | undefined) => coresOf(step, (role) => role !== "other");
/** Cores the rest of the machine took meanwhile: when it took some, the run had less (two runs disagree). */
const otherCores = (step: StepFigures | undefined) => coresOf(step, (role) => role === "other");

async function main(): Promise<void> {
  const db = await openPostgres({ url, schema, max: 10 });
  const partners = await startPartnersProcess(drivers);
  progress(`partners up with ${drivers} drivers`);
  const env = {
    PORT: "0",
    AUTH_TOKENS: "fleet=f,internal=i,driver=d,admin=a",
    DEMO_DATA: "false",
    // The built-in CRM simulator's tables in the bench's own schema (dropped with it), not the
    // shared `crm` one, which another run may have left full.
    CRM_SCHEMA: schema,
    LOG_LEVEL: "warn",
    ...partners.urls,
    STATUS_NATS_URL: natsUrl,
    STATUS_STREAM: names.stream,
    STATUS_SUBJECT: names.subject,
    STATUS_CONSUMER: names.consumer,
    STATUS_DEAD_LETTER_STREAM: names.deadLetterStream,
    STATUS_DEAD_LETTER_SUBJECT: names.deadLetterSubject,
    STATUS_DEBOUNCE_MS: String(debounceMs),
    STATUS_MAX_DELAY_MS: String(maxDelayMs),
    STATUS_MAX_ACK_PENDING: String(maxAckPending),
    STATUS_PULL_BATCH: String(pullBatch),
    KRT_RATE_LIMIT_PER_S: String(krtRate),
    STATUS_INGEST: ingest,
  };
  const instance = await startInstance(loadConfig(env), { db, logger: createLogger({ level: "warn" }) });
  let stopped = false;
  const { jsm, close: closeNats } = await natsManager(natsUrl);
  const publisher = await startPublisherProcess(natsUrl, drivers);
  const krtUrl = partners.urls.KRT_URL;
  const krtCalls = async (since: number): Promise<{ calls: KrtCall[]; total: number }> => (await fetch(`${krtUrl}/__krt/calls?since=${since}`)).json() as never;
  const lagOf = () => consumerLag(jsm, names.stream, names.consumer);
  /** Waits until KRT has had no call for two seconds: what the warm-up asked for is all sent. */
  const krtQuiet = async () => {
    for (let last = -1; ; ) {
      const { total } = await krtCalls(1e12);
      if (total === last) return;
      last = total;
      await sleep(2_000);
    }
  };

  /** Cores the instance's main thread and its other threads (the ingest worker, V8's GC helpers, libuv's pool) took since `before`. */
  const coresByThread = (before: Record<string, number>, seconds: number) => {
    const used = Object.entries(cpuDelta(before, threadCpuSeconds(process.pid))).filter(([, s]) => s > 0);
    progress(`  cores by thread: ${used.map(([t, s]) => `${t} ${round(s / seconds, 3)}`).join(", ")}`);
    const main = used.find(([t]) => t === "main")?.[1] ?? 0;
    const others = used.reduce((sum, [t, s]) => (t === "main" ? sum : sum + s), 0);
    return { main: round(main / seconds, 3), other_threads: round(others / seconds, 3) };
  };
  /**
   * Waits until every idle KRT session is asleep, as in a long-running instance: the 220/s and idle
   * windows would otherwise pay for putting to sleep the thousands that the binding or a warm-up
   * touched together (one tick of `SLEEP_AFTER_MS` sleeps them all, ~50 µs each).
   */
  const settled = async () => {
    const awakeIdle = () => instance.system.host.hosted().filter((c) => c.address.type === "krt-session" && c.isIdle() && !c.dormant).length;
    const started = performance.now();
    for (let until = Date.now() + 3 * instance.config.sleepAfterMs; awakeIdle() > 0 && Date.now() < until; ) await sleep(1_000);
    progress(`settled in ${round((performance.now() - started) / 1000, 1)} s: ${awakeIdle()} idle sessions still awake`);
  };

  try {
    while (!instance.services.driverStatus.statusStream()) await sleep(100);
    progress(`binding ${drivers} KRT ids...`);
    let next = 0;
    const bindStarted = performance.now();
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (next < drivers) {
          const d = driverOf(next++);
          await instance.system.ask(`krt-session/${d.licence}`, { type: "bind", deptrans_id: d.krtId }, { timeoutMs: 60_000 });
        }
      }),
    );
    progress(`bound in ${round((performance.now() - bindStarted) / 1000, 1)} s`);

    const drainedTo = async (limit: number, timeoutMs: number, lag: () => Promise<Lag>) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const l = await lag();
        if (l.undelivered + l.unacked <= limit || Date.now() > until) return l;
        await sleep(250);
      }
    };

    progress(`warm-up: first statuses of ${lagDrivers} drivers at 2000/s...`);
    await publisher.run(names.subject, 2_000, Math.ceil((lagDrivers * 2) / 2_000), { drivers: lagDrivers });
    await drainedTo(0, 120_000, lagOf);
    await krtQuiet();

    await settled();

    // 1. The seed's rate.
    progress(`lag at 220 events/s for ${lagSeconds} s...`);
    const callsBefore = (await krtCalls(0)).total;
    const phaseStart = Date.now();
    const stopProfileAt220 = await profileWindow("220");
    const cpuAt220Before = cpuByRole({ instance: process.pid, partners: partners.pid, publisher: publisher.pid });
    const threadsAt220Before = threadCpuSeconds(process.pid);
    const atRate = await publisher.run(names.subject, 220, lagSeconds, { drivers: lagDrivers });
    await stopProfileAt220?.();
    const cpuAt220 = cpuDelta(cpuAt220Before, cpuByRole({ instance: process.pid, partners: partners.pid, publisher: publisher.pid }));
    const instanceCoresAt220 = round(cpuAt220.instance! / (atRate.elapsed_ms / 1000), 3);
    const coresAt220ByThread = coresByThread(threadsAt220Before, atRate.elapsed_ms / 1000);
    await sleep(maxDelayMs + 2_000);
    const { calls } = await krtCalls(callsBefore);
    const phaseCalls = calls.filter((c) => c.at >= phaseStart);
    const lags = Float64Array.from(phaseCalls.map((c) => c.received_at - c.at)).sort();
    progress(`220/s: ${atRate.published} events, ${phaseCalls.length} KRT calls, lag p50 ${round(percentile(lags, 50))} p99 ${round(percentile(lags, 99))} ms`);

    // 2. Sustained ingest, rising steps. Lag (stored but not yet acknowledged) is sampled a third
    // into the step and at its end: a step holds when lag grew by less than 5% of the rate per
    // second in between (the coalescer legitimately holds about a debounce window of input) and
    // less than half a second of input waits undelivered at the end. Each step opens with a burst
    // (`burstSeconds`), which a step that holds has worked off by then.
    const pids = { instance: process.pid, partners: partners.pid, publisher: publisher.pid };
    /** What became of the statuses so far, by outcome (our instance only). */
    const outcomes = async (): Promise<Record<string, number>> => {
      if (stopped) return {};
      const metric = await instance.registry.getSingleMetric("fleet_status_events_total")?.get();
      return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.outcome), v.value]));
    };
    /** Our instance's commit statements so far and the commits they carried (`fleet_snapshot_commit_batch_size`). */
    const commitBatches = () =>
      histogramTotals(stopped ? undefined : (instance.registry.getSingleMetric("fleet_snapshot_commit_batch_size") as Histogram | undefined));
    const krtWaiting = async (): Promise<Record<string, number>> => {
      const metric = stopped ? undefined : await instance.registry.getSingleMetric("fleet_krt_calls_waiting")?.get();
      return { krt_waiting: metric?.values[0]?.value ?? 0 };
    };
    /** Our consumer's timeline over a step; printed a line a second once stopped. */
    const timeline = (label: string) => {
      const sampling = statusTimeline(jsm, names, pids, async () => Object.values(await outcomes()).reduce((a, b) => a + b, 0), krtWaiting);
      return async (): Promise<TimelineRow[]> => {
        const rows = await sampling.stop();
        for (const { extra, cores, ...row } of rows) progress(`  ${label} ${JSON.stringify({ ...row, ...extra, cores })}`);
        return rows;
      };
    };
    /**
     * The search of a ceiling: the ladder `given` until a step falls behind (past its top, when
     * `untilBehind`, rising by half until one does), then, when `bisect`, the midpoint of the
     * highest rate held and the lowest that fell behind, until they are within `searchResolution`
     * of each other (the raw baseline is not bisected: a reference, not a figure to agree). Every
     * step is judged alike: held means consumed kept up with offered and the lag did not grow; a
     * step is behind once it fell behind `behindRetries` + 1 times in a row.
     */
    const runSteps = async (label: string, subject: string, given: number[], lag: () => Promise<Lag>, search: { untilBehind: boolean; bisect: boolean }) => {
      // `limited`: some step fell behind, so `rate` is the ceiling; otherwise the highest step held
      // and the real ceiling lies above it.
      let best = { rate: 0, consumed_per_s: 0, cpu_ms_per_1000: {} as Record<string, number>, limited: false, behind: undefined as StepFigures | undefined };
      const tried: [rate: number, held: boolean][] = [];
      let ladder = 0;
      const nextRate = (): number | undefined => {
        const behind = best.behind?.rate;
        if (behind === undefined) {
          if (ladder < given.length) return given[ladder++];
          return search.untilBehind && best.rate > 0 ? Math.round(best.rate * 1.5) : undefined;
        }
        const between = Math.round((best.rate + behind) / 2 / 10) * 10;
        const fineEnough = behind - best.rate <= searchResolution * behind;
        return !search.bisect || best.rate === 0 || fineEnough || between <= best.rate || between >= behind ? undefined : between;
      };
      /** One step at `rate`: what was published and consumed over its last two thirds, and whether it held. */
      const runStep = async (rate: number): Promise<StepFigures & { holds: boolean }> => {
        const stopProfile = label === "ours" ? await profileWindow(String(rate)) : undefined;
        const stopTimeline = label === "ours" && timelineEveryStep ? timeline(`${rate}/s`) : undefined;
        const outcomesBefore = await outcomes();
        const running = publisher.run(subject, rate, stepSeconds, { burst: Math.round(rate * burstSeconds) });
        await sleep((stepSeconds * 1000) / 3);
        const t1 = performance.now();
        const mid = await lag();
        const cpu1 = cpuByRole(pids);
        const batches1 = await commitBatches();
        const run = await running;
        const end = await lag();
        await stopProfile?.();
        await stopTimeline?.();
        const cpu = cpuDelta(cpu1, cpuByRole(pids));
        const batches = cpuDelta(batches1, await commitBatches());
        const growth = (end.undelivered + end.unacked - mid.undelivered - mid.unacked) / ((performance.now() - t1) / 1000);
        const achieved = (run.published / run.elapsed_ms) * 1000;
        const consumed = Math.round(achieved - Math.max(0, growth));
        // Pulls come in batches, so the unacknowledged count moves by up to a batch at a time.
        const tolerance = Math.max(rate * 0.05, pullBatch / ((stepSeconds * 2) / 3));
        const holds = achieved >= rate * 0.95 && growth <= tolerance && end.undelivered <= rate / 2;
        // CPU of the run's own processes per 1000 statuses consumed, over the same two thirds of the step.
        const consumedThere = consumed * ((performance.now() - t1) / 1000);
        const perThousand = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round((v * 1e6) / consumedThere, 1)]));
        const outcomesAfter = await outcomes();
        const became = Object.fromEntries(
          Object.entries(outcomesAfter)
            .map(([k, v]) => [k, v - (outcomesBefore[k] ?? 0)])
            .filter(([, v]) => v !== 0),
        );
        progress(
          `${label} ${rate}/s: published ${Math.round(achieved)}/s, lag ${mid.undelivered + mid.unacked} -> ${end.undelivered + end.unacked} (${Math.round(growth)}/s), consumed ~${consumed}/s, redelivered ${end.redelivered - mid.redelivered}, ${batches.count ? `commits ${Math.round(batches.count / ((performance.now() - t1) / 1000))}/s of ${round(batches.sum! / batches.count, 1)}, ` : ""}cpu ms/1000 ${JSON.stringify(perThousand)}${Object.keys(became).length ? `, outcomes ${JSON.stringify(became)}` : ""} -> ${holds ? "holds" : "falls behind"}`,
        );
        tried.push([rate, holds]);
        return { rate, consumed_per_s: consumed, cpu_ms_per_1000: perThousand, holds };
      };
      for (let rate = nextRate(); rate !== undefined; rate = nextRate()) {
        let step = await runStep(rate);
        for (let retry = 0; !step.holds && retry < behindRetries; retry++) {
          await drainedTo(0, 300_000, lag);
          progress(`${label} ${rate}/s: trying again from an empty pipeline`);
          step = await runStep(rate);
        }
        const { holds, ...figures } = step;
        if (holds) {
          best = { ...best, ...figures };
          await drainedTo(rate, 60_000, lag);
        } else {
          best = { ...best, limited: true, behind: figures };
          await drainedTo(0, 300_000, lag);
        }
      }
      await drainedTo(0, 300_000, lag);
      const resolution = best.behind && best.rate ? round((best.behind.rate - best.rate) / best.rate, 3) : null;
      progress(`${label}: ${best.rate}/s held${best.behind ? `, ${best.behind.rate}/s fell behind (${round((resolution ?? 1) * 100, 1)}% apart)` : ""}`);
      return { ...best, tried, resolution };
    };
    // Steady state before the steps, as a long-running instance has it: every driver already seen
    // (caches, region memory, repeat filter, actors). Without this the first step pays for it.
    if (steps.length > 0) {
      const warmRate = Math.max(1_000, Math.round(steps[0]! / 2));
      const warmSeconds = Math.ceil((drivers * 2) / warmRate);
      progress(`warm-up: statuses of all ${drivers} drivers at ${warmRate}/s for ${warmSeconds} s...`);
      await publisher.run(names.subject, warmRate, warmSeconds);
      await drainedTo(0, 300_000, lagOf);
    }
    await krtQuiet();
    const eluBefore = performance.eventLoopUtilization();
    const ours = await runSteps("ours", names.subject, steps, lagOf, { untilBehind: ceilingSearch, bisect: true });
    const ownElu = performance.eventLoopUtilization(eluBefore);

    // 5. Overload: twice what held. Measured over the step's last two thirds, as the steps are.
    // Fed: the consumer had input waiting all along that window (else the publisher, not the
    // consumer, set what was consumed, and the step says nothing of the overload).
    let overload: (StepFigures & { published_per_s: number; fed: boolean }) | undefined;
    if (ours.consumed_per_s > 0) {
      progress(`overload: ${2 * ours.rate}/s offered (twice the sustained rate)...`);
      const stopProfile = await profileWindow("overload");
      const stopTimeline = timeline("overload");
      const outcomesBefore = await outcomes();
      const running = publisher.run(names.subject, 2 * ours.rate, stepSeconds);
      await sleep((stepSeconds * 1000) / 3);
      const t1 = performance.now();
      const before = await outcomes();
      const cpu1 = cpuByRole(pids);
      const run = await running;
      const seconds = (performance.now() - t1) / 1000;
      const after = await outcomes();
      const cpu = cpuDelta(cpu1, cpuByRole(pids));
      await stopProfile?.();
      const rows = await stopTimeline();
      // Consumed: every status the pipeline settled (told, dropped on purpose or dead-lettered).
      const settled = Object.keys(after).reduce((sum, k) => sum + (after[k]! - (before[k] ?? 0)), 0);
      const consumed = Math.round(settled / seconds);
      const measured = rows.filter((r) => r.t * 1000 >= (stepSeconds * 1000) / 3);
      overload = {
        rate: 2 * ours.rate,
        published_per_s: Math.round((run.published / run.elapsed_ms) * 1000),
        fed: measured.length > 0 && measured.every((r) => r.undelivered > 0),
        consumed_per_s: consumed,
        cpu_ms_per_1000: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round((v * 1e6) / settled, 1)])),
      };
      progress(
        `overload: published ${overload.published_per_s}/s, consumed ~${consumed}/s (${round(consumed / ours.consumed_per_s, 2)} of sustained), ${overload.fed ? "input waiting throughout" : "input ran out"}; outcomes ${JSON.stringify(cpuDelta(outcomesBefore, after))}`,
      );
      await drainedTo(0, 300_000, lagOf);
    }

    // 6. Idle, once the load is over, KRT has heard everything and the sessions are asleep (the
    // steps above run with them awake, as they are at those rates: each driver every few seconds).
    await krtQuiet();
    await settled();
    progress(`idle for ${idleSeconds} s with ${drivers} drivers bound and seen...`);
    const stopProfileIdle = await profileWindow("idle");
    const idleBefore = cpuByRole(pids);
    const idleThreadsBefore = threadCpuSeconds(process.pid);
    await sleep(idleSeconds * 1000);
    await stopProfileIdle?.();
    const idleCores = round(cpuDelta(idleBefore, cpuByRole(pids)).instance! / idleSeconds, 3);
    const idleCoresByThread = coresByThread(idleThreadsBefore, idleSeconds);
    const idleRssMb = round(process.memoryUsage().rss / 2 ** 20, 0);
    const idleMemory = memoryBreakdown();
    progress(`idle memory: ${JSON.stringify(idleMemory)}`);

    // What the krt-session actors hold: the heap freed by passivating them all.
    const sessions = () => instance.system.host.hosted().filter((c) => c.address.type === "krt-session");
    const sessionCount = sessions().length;
    fullGc();
    const withSessions = process.memoryUsage().heapUsed;
    for (let round = 0; round < 100 && sessions().length > 0; round++) {
      await Promise.all(
        sessions()
          .filter((c) => c.isIdle())
          .map((c) => c.retire("passivated", { flush: false })),
      );
      await sleep(100);
    }
    fullGc();
    const sessionsHeapMb = mb(withSessions - process.memoryUsage().heapUsed);
    progress(`${sessionCount} krt-session actors held ${sessionsHeapMb} MB of heap`);

    // 3. The raw baseline, and 4. the seed's design, with our instance stopped first (its KRT
    // backlog and actors would otherwise take CPU from them).
    progress("stopping the instance before the baseline runs...");
    await instance.stop();
    stopped = true;
    const limits = { maxAckPending, ackWaitMs: 30_000, pullBatch, maxAgeMs: 3_600_000, maxFutureSkewMs: 300_000 };
    const raw = await startRawConsumer(natsUrl, rawNames, limits);
    const rawBest = await runSteps("raw", rawNames.subject, rawSteps, () => consumerLag(jsm, rawNames.stream, rawNames.consumer), {
      untilBehind: ceilingSearch,
      bisect: false,
    });
    const rawCounts = raw.counts();
    await raw.stop();

    const logger = createLogger({ level: "silent" });
    const cacheOptions = { refreshMs: 5_000, logger, now: Date.now };
    const partner = { timeoutMs: 2_000, retries: 2 };
    const profiles = driverProfilesCache(new DriverProfilesClient({ baseUrl: partners.urls.DRIVER_PROFILES_URL, ...partner }), cacheOptions);
    const categories = driverCategoriesCache(new DriverCategoriesClient({ baseUrl: partners.urls.DRIVER_CATEGORIES_URL, ...partner }), cacheOptions);
    profiles.cache.start();
    categories.cache.start();
    await Promise.all([profiles.cache.ready(), categories.cache.ready()]);
    const trackstory = new TrackstoryClient({ baseUrl: partners.urls.TRACKSTORY_URL, ...partner });
    const naive = await startNaiveStatusQueue({
      sql: db.sql,
      natsUrl,
      names: naiveNames,
      limits,
      profiles: { licenceOf: profiles.licenceOf, refreshNow: () => profiles.cache.refreshNow() },
      categoriesOf: categories.categoriesOf,
      positions: (ds) => trackstory.positions(ds),
      krt: new KrtClient({
        baseUrl: krtUrl,
        ...partner,
        clientId: "fleet",
        clientSecret: partners.urls.KRT_CLIENT_SECRET,
        tokens: memoryTokenStore(),
        ratePerSecond: krtRate,
      }),
      upsertConcurrency: 16,
      drainEveryMs: 1_000,
    });
    const naiveBest = await runSteps("naive", naiveNames.subject, naiveSteps, () => consumerLag(jsm, naiveNames.stream, naiveNames.consumer), {
      untilBehind: naiveCeilingSearch,
      bisect: naiveCeilingSearch,
    });
    await naive.stop();
    profiles.cache.stop();
    categories.cache.stop();

    printResult({
      bench: "status",
      drivers,
      debounce_ms: debounceMs,
      max_delay_ms: maxDelayMs,
      krt_rate_limit_per_s: krtRate,
      max_ack_pending: maxAckPending,
      ingest,
      step_seconds: stepSeconds,
      step_burst_seconds: burstSeconds,
      sustained_events_per_s: ours.rate,
      sustained_is_ceiling: ours.limited,
      sustained_consumed_per_s: ours.consumed_per_s,
      // How far apart the rate held and the rate that fell behind ended (a share of the former),
      // and every rate tried, in order, with whether it held.
      sustained_resolution: ours.resolution,
      sustained_steps: ours.tried,
      behind_retries: behindRetries,
      cpu_ms_per_1000_events: ours.cpu_ms_per_1000,
      cores_busy_at_sustained: coresBusy(ours.rate ? ours : undefined),
      other_cores_at_sustained: otherCores(ours.rate ? ours : undefined),
      // The first step that fell behind: what it still consumed, and what that cost.
      behind_at_events_per_s: ours.behind?.rate ?? null,
      behind_consumed_per_s: ours.behind?.consumed_per_s ?? null,
      behind_cpu_ms_per_1000_events: ours.behind?.cpu_ms_per_1000 ?? null,
      cores_busy_when_behind: coresBusy(ours.behind),
      other_cores_when_behind: otherCores(ours.behind),
      overload_offered_per_s: overload?.rate ?? null,
      overload_published_per_s: overload?.published_per_s ?? null,
      overload_consumer_fed: overload?.fed ?? null,
      overload_consumed_per_s: overload?.consumed_per_s ?? null,
      overload_consumed_ratio: overload ? round(overload.consumed_per_s / ours.consumed_per_s, 2) : null,
      overload_cpu_ms_per_1000_events: overload?.cpu_ms_per_1000 ?? null,
      // All cores busy: the machine, which the publisher and NATS share with the instance, is the ceiling.
      cores_busy_at_overload: coresBusy(overload),
      idle_instance_cores: idleCores,
      idle_instance_cores_by_thread: idleCoresByThread,
      idle_instance_rss_mb: idleRssMb,
      idle_memory: idleMemory,
      krt_sessions_hosted: sessionCount,
      krt_sessions_heap_mb: sessionsHeapMb,
      krt_session_heap_kb_each: sessionCount ? round((sessionsHeapMb * 1024) / sessionCount, 2) : null,
      instance_cores_at_220: instanceCoresAt220,
      instance_cores_at_220_by_thread: coresAt220ByThread,
      events_at_220: atRate.published,
      krt_calls_at_220: phaseCalls.length,
      krt_calls_per_event_at_220: round(phaseCalls.length / atRate.published, 3),
      ...latencyFigures("lag_at_220", lags, 1),
      lag_p99_within_debounce_plus_100: percentile(lags, 99) <= debounceMs + 100,
      naive_events_per_s: naiveBest.rate,
      naive_is_ceiling: naiveBest.limited,
      naive_consumed_per_s: naiveBest.consumed_per_s,
      naive_behind_at_events_per_s: naiveBest.behind?.rate ?? null,
      naive_resolution: naiveBest.resolution,
      naive_steps: naiveBest.tried,
      naive_cpu_ms_per_1000_events: naiveBest.cpu_ms_per_1000,
      speedup_vs_naive: naiveBest.rate ? round(ours.rate / naiveBest.rate, 2) : null,
      // The floor: JetStream in, Schema decode, ack. Ours as a share of it, by rate and by the
      // instance's CPU per event (both measured in this run).
      raw_events_per_s: rawBest.rate,
      raw_is_ceiling: rawBest.limited,
      raw_cpu_ms_per_1000_events: rawBest.cpu_ms_per_1000,
      raw_malformed: rawCounts.malformed,
      ours_vs_raw: rawBest.rate ? round(ours.rate / rawBest.rate, 3) : null,
      instance_cpu_vs_raw:
        ours.cpu_ms_per_1000.instance && rawBest.cpu_ms_per_1000.instance ? round(ours.cpu_ms_per_1000.instance / rawBest.cpu_ms_per_1000.instance, 2) : null,
      instance_event_loop_utilisation: round(ownElu.utilization, 2),
      cores: cpus().length,
      // Postgres, NATS, the simulators and the publisher share these cores with the instance.
      load_average_1m: round(loadavg()[0]!, 2),
    });
  } finally {
    publisher.stop();
    if (!stopped) await instance.stop().catch(() => {});
    for (const stream of [names.stream, names.deadLetterStream, rawNames.stream, rawNames.deadLetterStream, naiveNames.stream, naiveNames.deadLetterStream])
      await jsm.streams.delete(stream).catch(() => {});
    await closeNats();
    partners.stop();
    await db.close().catch(() => {});
    await dropSchema(url, schema).catch((e) => progress(`drop schema failed: ${String(e)}`));
  }
}

await main();
process.exit(0);
