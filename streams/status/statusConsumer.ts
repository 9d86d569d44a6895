// Running the status stream: the status source (on a worker thread or this one) feeding the
// pipeline (statusStream.ts), restarted after a failure, until stopped.
import type { Subscription } from "rxjs";
import { openStatusSource, type ConsumerLag, type StatusSourceOptions } from "./statusSource.ts";
import { startIngestWorker } from "./statusIngest.ts";
import { statusStream, type StatusStreamOptions, type StatusStreamSources } from "./statusStream.ts";

export interface RunningStatusStream {
  /** Messages taken from JetStream and not yet settled. */
  readonly outstanding: () => number;
  readonly lag: () => Promise<ConsumerLag>;
  stop(): Promise<void>;
}

export interface StatusConsumerOptions extends Omit<StatusSourceOptions, "count"> {
  /**
   * `worker`: JetStream and the decode run on a worker thread, the rest of the pipeline and the
   * actors on this one (the default: the NATS protocol, the message buffers and the decode no
   * longer compete with the actors for one event loop); `main`: everything on this thread.
   */
  readonly ingest: "worker" | "main";
  readonly sources: Omit<StatusStreamSources, "statuses">;
  readonly options: StatusStreamOptions;
}

/**
 * Opens the status source and runs the pipeline on it until `stop`.
 * @example const running = await runStatusStream({ natsUrl, names, limits, ingest: "worker", sources, options, logger, connectionName })
 */
export async function runStatusStream(config: StatusConsumerOptions): Promise<RunningStatusStream> {
  const { natsUrl, natsAuth = {}, connectionName, names, limits, logger } = config;
  const sourceOptions: StatusSourceOptions = { natsUrl, natsAuth, connectionName, names, limits, logger, count: config.options.count };
  const source = config.ingest === "worker" ? await startIngestWorker(sourceOptions) : await openStatusSource(sourceOptions);
  let subscription: Subscription | undefined;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    subscription = statusStream({ ...config.sources, statuses: source.statuses }, config.options).subscribe({
      error: (error) => {
        // Operators retry their own failures; anything reaching here is a bug or a lost consumer: start over.
        config.logger.error("status stream failed; restarting it", { error: String(error) });
        source.handBack();
        setTimeout(run, 1_000);
      },
    });
  };
  run();
  return {
    outstanding: () => source.outstanding(),
    lag: () => source.lag(),
    stop: async () => {
      stopped = true;
      subscription?.unsubscribe();
      // What was taken but not told goes back to JetStream now, for another instance (or the next start).
      await source.stop();
    },
  };
}
