// Partner calls as /metrics shows them: each call (its retries included) counted by partner and
// outcome, and its duration.
import { Counter, Histogram, type Registry } from "prom-client";
import type { JsonClientOptions } from "./http.ts";

export function partnerCallMetrics(registry: Registry): NonNullable<JsonClientOptions["observe"]> {
  const calls = new Counter({
    name: "fleet_partner_calls_total",
    help: "Partner HTTP calls by partner (krt, trackstory, ...) and outcome (ok, unavailable, timeout, rejected, protocol)",
    labelNames: ["system", "outcome"],
    registers: [registry],
  });
  const durations = new Histogram({
    name: "fleet_partner_call_seconds",
    help: "Partner HTTP calls from the first attempt to the answer or the last failure",
    labelNames: ["system"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return ({ system, outcome, seconds }) => {
    calls.inc({ system, outcome });
    durations.observe({ system }, seconds);
  };
}
