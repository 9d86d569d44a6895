// The runtime's Prometheus metrics, registered on the instance's registry.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface RuntimeMetrics {
  actorsActive: Gauge<"type">;
  actorsRetired: Counter<"type" | "reason">;
  actorsResumed: Counter<"type">;
  asks: Histogram<"type" | "outcome">;
  commitBatch: Histogram;
  commitSeconds: Histogram;
  timersFired: Counter;
  outboxDelivered: Counter<"kind">;
}

export function runtimeMetrics(registry: Registry): RuntimeMetrics {
  const registers = [registry];
  return {
    actorsActive: new Gauge({ name: "fleet_actors_active", help: "Actors hosted in memory, per kind", labelNames: ["type"], registers }),
    actorsRetired: new Counter({
      name: "fleet_actors_retired_total",
      help: "Actors dropped from memory: passivated, stopped, failed, stale (a commit rejected by version or epoch) or rejected (a commit the database refused for its data)",
      labelNames: ["type", "reason"],
      registers,
    }),
    actorsResumed: new Counter({
      name: "fleet_actors_resumed_total",
      help: "Actors loaded with work in flight that a crash, pause or handover had cut off, and restarted it",
      labelNames: ["type"],
      registers,
    }),
    asks: new Histogram({
      name: "fleet_actor_ask_seconds",
      help: "Ask latency from the caller's side",
      labelNames: ["type", "outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    commitBatch: new Histogram({
      name: "fleet_snapshot_commit_batch_size",
      help: "Actor commits per group-commit transaction",
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000],
      registers,
    }),
    commitSeconds: new Histogram({
      name: "fleet_snapshot_commit_seconds",
      help: "Duration of one group-commit transaction",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    }),
    timersFired: new Counter({ name: "fleet_durable_timers_fired_total", help: "Durable timers delivered to actors", registers }),
    outboxDelivered: new Counter({ name: "fleet_outbox_delivered_total", help: "Outbox messages delivered after commit", labelNames: ["kind"], registers }),
  };
}
