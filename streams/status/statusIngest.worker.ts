// The status ingest worker (see statusIngest.ts): opens the status source on this thread and
// relays it. Statuses leave in one message per `gatherMs` (or at once, past POST_AT_ONCE of them);
// each keeps its settle handle here under a number until the main thread acks it (or asks for
// more time).
import { parentPort, workerData } from "node:worker_threads";
import type { Subscription } from "rxjs";
import type { Logger } from "../../actors/logger.ts";
import { openStatusSource } from "./statusSource.ts";
import type { Settle } from "./statusMessages.ts";
import { STATUSES, type FromIngest, type IngestWorkerData, type ToIngest } from "./statusIngest.ts";

const port = parentPort!;
const post = (message: FromIngest, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
const statusIndex = new Map<string, number>(STATUSES.map((s, i) => [s, i]));

function portLogger(base: Record<string, unknown>): Logger {
  const log = (level: "info" | "warn" | "error") => (msg: string, fields?: Record<string, unknown>) =>
    post({ type: "log", level, msg, fields: { ...base, ...fields } });
  return { info: log("info"), warn: log("warn"), error: log("error"), child: (fields) => portLogger({ ...base, ...fields }) };
}

class Batch {
  ids: number[] = [];
  parks: string[] = [];
  drivers: string[] = [];
  statuses: number[] = [];
  at: number[] = [];
}

/**
 * A batch this large leaves at the end of the current turn instead of waiting out `gatherMs`:
 * under load the batches fill within a turn and gain nothing by waiting.
 */
const POST_AT_ONCE = 256;

const { gatherMs, ...sourceOptions } = workerData as IngestWorkerData;
let deadLettered = 0;
const source = await openStatusSource({
  ...sourceOptions,
  logger: portLogger({ thread: "status-ingest" }),
  count: (outcome, n = 1) => {
    if (outcome !== "dead_lettered") return;
    deadLettered += n;
    schedulePost();
  },
}).catch((error: unknown) => {
  post({ type: "failed", error: String(error) });
  process.exit(1);
});

const held = new Map<number, Settle>();
let nextId = 0;
let batch = new Batch();
let gathering: NodeJS.Timeout | undefined;
let postingNow = false;
let subscription: Subscription | undefined;

/** Statuses in arrival order: per driver, the order JetStream delivered them in. */
function postBatch(): void {
  clearTimeout(gathering);
  gathering = undefined;
  postingNow = false;
  const b = batch;
  batch = new Batch();
  const ids = Float64Array.from(b.ids);
  const statuses = Uint8Array.from(b.statuses);
  const at = Float64Array.from(b.at);
  post({ type: "statuses", ids, parks: b.parks, drivers: b.drivers, statuses, at, deadLettered, outstanding: source.outstanding() }, [
    ids.buffer,
    statuses.buffer,
    at.buffer,
  ]);
  deadLettered = 0;
}

function schedulePost(): void {
  if (postingNow) return;
  if (batch.ids.length >= POST_AT_ONCE || gatherMs === 0) {
    postingNow = true;
    setImmediate(postBatch);
  } else gathering ??= setTimeout(postBatch, gatherMs);
}

function consume(): void {
  subscription ??= source.statuses.subscribe({
    next: (s) => {
      const id = nextId++;
      held.set(id, s.settle);
      batch.ids.push(id);
      batch.parks.push(s.park_id);
      batch.drivers.push(s.driver_id);
      batch.statuses.push(statusIndex.get(s.status)!);
      batch.at.push(s.at);
      schedulePost();
    },
    error: (error: unknown) => {
      subscription = undefined;
      post({ type: "error", error: String(error) });
    },
  });
}

function settle(acks: readonly number[], working: readonly number[], rejects: Extract<ToIngest, { type: "settle" }>["rejects"]): void {
  for (const { id, reason, detail } of rejects) {
    const handle = held.get(id);
    if (!handle) continue;
    held.delete(id);
    handle.reject(reason, detail);
  }
  for (const id of acks) {
    const handle = held.get(id);
    if (!handle) continue; // handed back meanwhile
    held.delete(id);
    handle.ack();
  }
  for (const id of working) held.get(id)?.working();
  post({ type: "outstanding", outstanding: source.outstanding() });
}

port.on("message", (m: ToIngest) => {
  switch (m.type) {
    case "consume":
      return consume();
    case "pause":
      subscription?.unsubscribe();
      subscription = undefined;
      return;
    case "settle":
      return settle(m.acks, m.working, m.rejects);
    case "lag":
      source.lag().then(
        (lag) => post({ type: "lag", request: m.request, lag }),
        (error: unknown) => post({ type: "lag", request: m.request, error: String(error) }),
      );
      return;
    case "handBack":
      source.handBack();
      held.clear();
      batch = new Batch(); // handed back with the rest: not to cross any more
      post({ type: "outstanding", outstanding: 0 });
      return;
    case "stop":
      subscription?.unsubscribe();
      void source.stop().finally(() => process.exit(0));
      return;
  }
});
post({ type: "ready" });
