// Battery cabinets and accumulators (SPEC 3.1), role internal (the scooter backend), prefix
// /scooter-accumulator/v1. Writes go to the cabinet/<id> and accumulator/<id> actors; reads come
// from their projections (`cabinets`, `accumulators`), current as of the last commit.
import type { Server } from "hyper-express";
import { accumulatorRoutes } from "./accumulators.ts";
import { bookingRoutes } from "./bookings.ts";
import { cabinetResourceRoutes } from "./cabinets.ts";
import type { CabinetRouteDeps } from "./common.ts";
import { statsRoutes } from "./stats.ts";

export type { CabinetPolicy, CabinetRouteDeps } from "./common.ts";

export function cabinetRoutes(app: Server, deps: CabinetRouteDeps): void {
  cabinetResourceRoutes(app, deps);
  bookingRoutes(app, deps);
  accumulatorRoutes(app, deps);
  statsRoutes(app, deps);
}
