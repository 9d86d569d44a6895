// The status stream as this service runs it: started once the driver caches are filled (filtering
// against a half-filled copy would drop statuses of drivers it does not hold yet), its sources the
// caches, trackstory and the krt-session actors; retried until it starts, stopped with the instance.
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import type { ConnectivityEvent } from "../../machines/krtSession.machine.ts";
import type { StatusStreamConfig } from "../../streams/status/config.ts";
import { runStatusStream, type RunningStatusStream } from "../../streams/status/statusConsumer.ts";
import type { CountOutcome } from "../../streams/status/statusMessages.ts";
import type { StatusStreamSources } from "../../streams/status/statusStream.ts";
import type { ServiceContext } from "../Service.ts";
import type { DriverStatusPartners } from "./partners.ts";

export interface StatusStreamDeps {
  readonly system: ActorSystem;
  readonly natsUrl: string;
  readonly config: StatusStreamConfig;
  readonly partners: Pick<DriverStatusPartners, "profiles" | "categories" | "trackstory">;
  readonly count: CountOutcome;
  readonly now: () => number;
}

/** Where the pipeline's statuses go: the caches and trackstory filter them, the krt-session actors take them. */
function statusSources({ system, partners }: StatusStreamDeps): Omit<StatusStreamSources, "statuses"> {
  const { profiles, categories, trackstory } = partners;
  return {
    profiles: { licenceOf: profiles.licenceOf, refreshNow: () => profiles.cache.refreshNow() },
    categoriesOf: categories.categoriesOf,
    positions: (drivers) => trackstory.positions(drivers),
    tell: (change) =>
      system.tell(
        `krt-session/${change.licence}`,
        {
          type: "connectivity",
          park_id: change.park_id,
          driver_id: change.driver_id,
          connected: change.connected,
          status_at: change.at,
        } satisfies ConnectivityEvent,
        // Redelivered after a crash, the same status is dropped by the actor; driver and
        // time name it (another status of that driver and time would be refused as not newer).
        { messageId: `status:${change.driver}:${change.at}` },
      ),
  };
}

/**
 * Starts the status stream in the background, retrying (with backoff) until it runs; `running`
 * gets it once it does. Stopped with the instance.
 */
export function startStatusStream(ctx: ServiceContext, deps: StatusStreamDeps, running: (stream: RunningStatusStream) => void): void {
  const { config, partners } = deps;
  let stopped = false;
  let stream: RunningStatusStream | undefined;
  const start = async () => {
    await Promise.all([partners.profiles.cache.ready(), partners.categories.cache.ready()]);
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const started = await runStatusStream({
          natsUrl: deps.natsUrl,
          natsAuth: ctx.config.natsAuth,
          connectionName: `${ctx.config.instanceId}-statuses`,
          ingest: config.ingest,
          names: config.names,
          limits: config.limits,
          sources: statusSources(deps),
          options: {
            ...config.options,
            // One driver's statuses are spread over the instances of a cluster: see dropRepeats.
            dropRepeats: ctx.config.cluster === undefined,
            count: deps.count,
            now: deps.now,
          },
          logger: ctx.logger,
        });
        if (stopped) await started.stop();
        else {
          stream = started;
          running(started);
        }
        return;
      } catch (error) {
        ctx.logger.warn("status stream not started; retrying", { attempt, error: String(error) });
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
      }
    }
  };
  void start();
  ctx.onStop(async () => {
    stopped = true;
    await stream?.stop();
  });
}
