// The seed's product metrics of park customers: customers read (found or not) and changed, by
// this instance.
import { Counter, type Registry } from "prom-client";
import type { CustomerPublicEvent } from "./publicEvents.ts";

export interface CustomerMetrics {
  read(found: boolean): void;
  changed(state: CustomerPublicEvent["state"]): void;
}

export function customerMetrics(registry: Registry): CustomerMetrics {
  const reads = new Counter({
    name: "fleet_customers_read_total",
    help: "Customer reads by phone or id, found or not",
    labelNames: ["found"],
    registers: [registry],
  });
  const changes = new Counter({
    name: "fleet_customers_changed_total",
    help: "Customers created, updated or deleted",
    labelNames: ["state"],
    registers: [registry],
  });
  return {
    read: (found) => reads.inc({ found: String(found) }),
    changed: (state) => changes.inc({ state }),
  };
}
