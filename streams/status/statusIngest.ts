// The status stream's ingest on a worker thread: JetStream, the decode and the dead letters run
// there (`statusIngest.worker.ts`, around `openStatusSource`), the rest of the pipeline and the
// actors here. The worker keeps each message's settle handle under a number; statuses come over
// in one batch every `gatherMs` (at once when many), acks and +WPI go back in one batch every 100 ms.
import { Worker } from "node:worker_threads";
import { Observable, type Subscriber } from "rxjs";
import { driverKey } from "../../integrations/driverKey.ts";
import type { DriverStatus, Settle } from "./statusMessages.ts";
import type { ConsumerLag, StatusSource, StatusSourceOptions } from "./statusSource.ts";

/** `status` travels as its index here. */
export const STATUSES = ["online", "busy", "offline"] as const satisfies readonly DriverStatus["status"][];

/** What the worker is started with. */
export type IngestWorkerData = Omit<IngestOptions, "logger" | "count" | "gatherMs"> & { readonly gatherMs: number };

export interface IngestOptions extends StatusSourceOptions {
  /**
   * A status waits up to this long in the worker for others to cross with it (0: each turn's
   * statuses cross at once). At low rates statuses arrive one by one, and each crossing costs
   * both threads a message and this one a turn of the whole pipeline (a trackstory lookup
   * included); the latency budget is the coalescing's debounce (a second by default), of which
   * this takes a few percent. Default 50.
   */
  readonly gatherMs?: number;
}

/** Worker -> this thread. */
export type FromIngest =
  | { type: "ready" }
  | { type: "failed"; error: string }
  | {
      type: "statuses";
      ids: Float64Array;
      parks: string[];
      drivers: string[];
      statuses: Uint8Array;
      at: Float64Array;
      deadLettered: number;
      outstanding: number;
    }
  | { type: "outstanding"; outstanding: number }
  | { type: "log"; level: "info" | "warn" | "error"; msg: string; fields?: Record<string, unknown> }
  | { type: "lag"; request: number; lag?: ConsumerLag; error?: string }
  | { type: "error"; error: string };

/** This thread -> worker. */
export type ToIngest =
  | { type: "consume" }
  | { type: "pause" }
  | { type: "settle"; acks: number[]; working: number[]; rejects: { id: number; reason: string; detail: unknown }[] }
  | { type: "handBack" }
  | { type: "lag"; request: number }
  | { type: "stop" };

const STOP_TIMEOUT_MS = 10_000;
// The sources are TypeScript run through tsx: a worker registers it before loading its entry.
const BOOT = new URL("./statusIngest.boot.mjs", import.meta.url);

const SETTLE_EVERY_MS = 100;

/**
 * Acks and +WPI gathered for SETTLE_EVERY_MS, posted to the worker as one message: at low rates a
 * status arrives alone, and a message for each ack cost more of this thread than any other step of
 * its path (72 µs at 220/s); each message also costs the worker a turn, a write of its acks to
 * NATS and a message back. The ack wait is 30 s and nothing waits for the acks: the delay costs
 * JetStream nothing and no status is later for it.
 */
class SettleOutbox {
  #acks: number[] = [];
  #working: number[] = [];
  #rejects: { id: number; reason: string; detail: unknown }[] = [];
  #timer: NodeJS.Timeout | undefined;
  constructor(private readonly post: (message: ToIngest) => void) {}
  ack(id: number): void {
    this.#acks.push(id);
    this.#schedule();
  }
  working(id: number): void {
    this.#working.push(id);
    this.#schedule();
  }
  reject(id: number, reason: string, detail: unknown): void {
    this.#rejects.push({ id, reason, detail });
    this.#schedule();
  }
  /** Posts what is gathered now (before the worker is told to hand its messages back or stop). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#acks.length + this.#working.length + this.#rejects.length === 0) return;
    const message: ToIngest = { type: "settle", acks: this.#acks, working: this.#working, rejects: this.#rejects };
    this.#acks = [];
    this.#working = [];
    this.#rejects = [];
    this.post(message);
  }
  #schedule(): void {
    this.#timer ??= setTimeout(() => this.flush(), SETTLE_EVERY_MS);
  }
}

class WorkerSettle implements Settle {
  constructor(
    private readonly id: number,
    private readonly outbox: SettleOutbox,
  ) {}
  ack(): void {
    this.outbox.ack(this.id);
  }
  working(): void {
    this.outbox.working(this.id);
  }
  reject(reason: string, detail?: unknown): void {
    this.outbox.reject(this.id, reason, detail);
  }
}

/** A new ingest worker thread for `data`. */
export const ingestWorker = (data: IngestWorkerData): Worker => new Worker(BOOT, { workerData: data, name: "status-ingest", execArgv: [] });

/** A started worker, once its source is open (rejects with the worker's reason otherwise). */
function started(worker: Worker): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const settle = (outcome: () => void) => {
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
      outcome();
    };
    const onMessage = (m: FromIngest) => {
      if (m.type === "ready") settle(() => resolve(worker));
      else if (m.type === "failed") settle(() => reject(new Error(m.error)));
    };
    const onError = (error: Error) => settle(() => reject(error));
    const onExit = (code: number) => settle(() => reject(new Error(`the status ingest worker exited (${code}) before it was ready`)));
    worker.on("message", onMessage).on("error", onError).on("exit", onExit);
  });
}

/** The statuses of one batch from the worker, each with a settle handle going back through `outbox`. */
function relayStatuses(m: Extract<FromIngest, { type: "statuses" }>, to: Subscriber<DriverStatus>, outbox: SettleOutbox): void {
  for (let i = 0; i < m.ids.length; i++) {
    const park = m.parks[i]!;
    const driver = m.drivers[i]!;
    to.next({
      driver: driverKey(park, driver),
      park_id: park,
      driver_id: driver,
      status: STATUSES[m.statuses[i]!]!,
      at: m.at[i]!,
      settle: new WorkerSettle(m.ids[i]!, outbox),
    });
  }
}

/** Lag requests waiting for the worker's answer, by number. */
class LagRequests {
  #waiting = new Map<number, { resolve: (lag: ConsumerLag) => void; reject: (error: Error) => void }>();
  #last = 0;

  ask(worker: Worker | undefined): Promise<ConsumerLag> {
    return new Promise<ConsumerLag>((resolve, reject) => {
      if (!worker) return reject(new Error("no status ingest worker is running"));
      const request = ++this.#last;
      this.#waiting.set(request, { resolve, reject });
      worker.postMessage({ type: "lag", request } satisfies ToIngest);
    });
  }

  answer(m: Extract<FromIngest, { type: "lag" }>): void {
    const request = this.#waiting.get(m.request);
    this.#waiting.delete(m.request);
    if (m.lag) request?.resolve(m.lag);
    else request?.reject(new Error(m.error ?? "no lag"));
  }

  /** The worker is gone: no answer will come. */
  failAll(): void {
    for (const request of this.#waiting.values()) request.reject(new Error("the status ingest worker exited"));
    this.#waiting.clear();
  }
}

/** Asks the worker to stop (it hands back what it holds and drains); terminates it if it does not in time. */
async function stopWorker(w: Worker, logger: StatusSourceOptions["logger"]): Promise<void> {
  const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()));
  w.postMessage({ type: "stop" } satisfies ToIngest);
  const timeout = setTimeout(() => {
    logger.warn("status ingest worker did not stop in time; terminating it");
    void w.terminate();
  }, STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timeout);
}

/**
 * Opens the status source on a worker thread; resolves once it is connected and the consumer
 * exists (rejects like `openStatusSource` otherwise). A worker that dies fails the subscription;
 * subscribing again starts a new one. `newWorker` makes the threads (tests keep a handle on them).
 */
export async function startIngestWorker(options: IngestOptions, newWorker: (data: IngestWorkerData) => Worker = ingestWorker): Promise<StatusSource> {
  const { logger, count, gatherMs = 50, ...rest } = options;
  const data: IngestWorkerData = { ...rest, gatherMs };
  const spawn = () => started(newWorker(data));
  let worker: Worker | undefined;
  let outbox: SettleOutbox | undefined;
  let subscriber: Subscriber<DriverStatus> | undefined;
  let outstanding = 0;
  let stopping = false;
  const lagRequests = new LagRequests();

  const attach = (w: Worker) => {
    worker = w;
    const settles = new SettleOutbox((message) => w.postMessage(message));
    outbox = settles;
    w.on("message", (m: FromIngest) => {
      switch (m.type) {
        case "statuses": {
          outstanding = m.outstanding;
          if (m.deadLettered) count("dead_lettered", m.deadLettered);
          // Not subscribed (paused): the messages stay held in the worker until handed back or redelivered.
          if (subscriber) relayStatuses(m, subscriber, settles);
          return;
        }
        case "outstanding":
          outstanding = m.outstanding;
          return;
        case "log":
          logger[m.level](m.msg, m.fields);
          return;
        case "lag":
          lagRequests.answer(m);
          return;
        case "error":
          subscriber?.error(new Error(m.error));
          return;
      }
    });
    w.on("error", (error) => logger.error("status ingest worker failed", { error: String(error) }));
    w.on("exit", (code) => {
      if (worker === w) worker = undefined;
      outstanding = 0;
      lagRequests.failAll();
      if (!stopping) subscriber?.error(new Error(`the status ingest worker exited (${code})`));
    });
    return w;
  };
  attach(await spawn());

  const statuses = new Observable<DriverStatus>((s) => {
    let closed = false;
    const current = worker
      ? Promise.resolve(worker)
      : spawn().then((w) => {
          if (!stopping) return attach(w);
          void w.terminate(); // stopped while it started
          throw new Error("the status source is stopped");
        });
    current.then(
      (w) => {
        if (closed) return;
        subscriber = s;
        w.postMessage({ type: "consume" } satisfies ToIngest);
      },
      (error: unknown) => s.error(error),
    );
    return () => {
      closed = true;
      if (subscriber !== s) return;
      subscriber = undefined;
      worker?.postMessage({ type: "pause" } satisfies ToIngest);
    };
  });

  return {
    statuses,
    outstanding: () => outstanding,
    handBack: () => {
      outbox?.flush();
      worker?.postMessage({ type: "handBack" } satisfies ToIngest);
    },
    lag: () => lagRequests.ask(worker),
    stop: async () => {
      stopping = true;
      outbox?.flush();
      if (worker) await stopWorker(worker, logger);
    },
  };
}
