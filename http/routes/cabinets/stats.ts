// Fleet-wide counts: accumulators per location, the charge histogram, per-cabinet cells.
import type { Server } from "hyper-express";
import { cabinetStats } from "../../../storage/cabinetRepository.ts";
import { route } from "../../route.ts";
import { type CabinetRouteDeps, prefix } from "./common.ts";

export function statsRoutes(app: Server, deps: CabinetRouteDeps): void {
  const { sql, policy } = deps;

  route(app, deps, {
    method: "get",
    path: `${prefix}/stats`,
    role: "internal",
    doc: { summary: "Accumulators per location and charge band" },
    handle: async () => {
      const stats = await cabinetStats(sql, policy.chargedMinCharge);
      const locations = Object.fromEntries(
        ["cabinet", "contractor", "scooter", "unknown"].map((l) => [l, stats.by_location.find((x) => x.location === l)?.count ?? 0]),
      );
      return {
        status: 200,
        body: {
          accumulators: { ...locations, total: Object.values(locations).reduce((a, b) => a + b, 0) },
          charge_histogram: Array.from({ length: 10 }, (_, i) => ({
            from: i * 10,
            to: i * 10 + 10,
            count: stats.charge_histogram.find((h) => h.bucket === i)?.count ?? 0,
          })),
          charged_min_charge: policy.chargedMinCharge,
          cabinets: stats.cabinets.map((c) => ({ ...c, online: c.state === "online" })),
        },
      };
    },
  });
}
