// The driver-status service's metrics: what became of the status messages, the stream's backlog
// and messages held, KRT calls waiting for the rate limit, and the seed's product metric (the
// working drivers blocking would refuse, per region).
import { Counter, Gauge, type Registry } from "prom-client";
import type { RunningStatusStream } from "../../streams/status/statusConsumer.ts";
import type { CountOutcome, StatusOutcome } from "../../streams/status/statusMessages.ts";

/**
 * Registers the metrics, read from `stream` (undefined while it does not run) and `krt` when
 * scraped; returns the outcome counter the status stream counts with.
 */
export function driverStatusMetrics(
  registry: Registry,
  read: {
    stream: () => RunningStatusStream | undefined;
    krtWaiting: () => number;
    /** Per region, the working drivers can-take-orders would refuse once blocking (read from the projection). */
    refusedIfBlocking: () => Promise<ReadonlyMap<string, number>>;
    regions: readonly string[];
  },
): CountOutcome {
  // Counted in place per status and handed to the counter when read: prom-client hashes the
  // labels on every `inc`, which at 20,000 statuses/s is time worth keeping.
  const uncounted = new Map<StatusOutcome, number>();
  new Counter({
    name: "fleet_status_events_total",
    help: "Driver status messages by what became of them",
    labelNames: ["outcome"],
    registers: [registry],
    collect() {
      for (const [outcome, n] of uncounted) this.inc({ outcome }, n);
      uncounted.clear();
    },
  });
  new Gauge({
    name: "fleet_status_outstanding",
    help: "Status messages taken from JetStream and not yet settled",
    registers: [registry],
    collect() {
      this.set(read.stream()?.outstanding() ?? 0);
    },
  });
  new Gauge({
    name: "fleet_status_stream_lag",
    help: "Statuses in the durable consumer not yet delivered (undelivered) or not yet acknowledged (unacknowledged), all instances together",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const lag = await read
        .stream()
        ?.lag()
        .catch(() => undefined);
      if (!lag) return; // no stream, or JetStream did not answer: the last value stands
      this.set({ state: "undelivered" }, lag.undelivered);
      this.set({ state: "unacknowledged" }, lag.unacknowledged);
    },
  });
  new Gauge({
    name: "fleet_krt_calls_waiting",
    help: "KRT reports and checks of this instance waiting for its rate limit (KRT_RATE_LIMIT_PER_S): in memory, or asleep until the turn promised them",
    registers: [registry],
    collect() {
      this.set(read.krtWaiting());
    },
  });
  new Gauge({
    name: "fleet_krt_drivers_refused_if_blocking",
    help: "Drivers working now in each region (STATUS_REGIONS) whom can-take-orders would refuse once blocking is on, all instances together",
    labelNames: ["region"],
    registers: [registry],
    async collect() {
      const refused = await read.refusedIfBlocking().catch(() => undefined);
      if (!refused) return; // the database or trackstory did not answer: the last values stand
      for (const region of read.regions) this.set({ region }, refused.get(region) ?? 0);
    },
  });
  return (outcome, n = 1) => void uncounted.set(outcome, (uncounted.get(outcome) ?? 0) + n);
}
