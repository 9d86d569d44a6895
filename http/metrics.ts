// HTTP request rates and latencies per route.
import { Counter, Histogram, type Registry } from "prom-client";

export interface HttpMetrics {
  requests: Counter<"method" | "route" | "status">;
  duration: Histogram<"method" | "route">;
}

export function httpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({ name: "fleet_http_requests_total", help: "HTTP requests", labelNames: ["method", "route", "status"], registers: [registry] }),
    duration: new Histogram({
      name: "fleet_http_request_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
  };
}
