// The seed's product metrics as Prometheus gauges, read from the projection at each scrape:
// accumulators per location (in cabinets, with technicians, in scooters, unknown) and those in
// cabinets per 10% charge band; written-off accumulators are out of service and counted in
// neither. Every instance reports the same, cluster-wide, numbers.
import { Gauge } from "prom-client";
import { accumulatorCounts } from "../../storage/cabinetRepository.ts";
import { oncePerScrape } from "../scrapeGauges.ts";
import type { ServiceContext } from "../Service.ts";

const LOCATIONS = ["cabinet", "contractor", "scooter", "unknown"] as const;

export function accumulatorGauges(ctx: ServiceContext): void {
  const counts = oncePerScrape(() => accumulatorCounts(ctx.db.sql));
  new Gauge({
    name: "fleet_accumulators",
    help: "Accumulators per location: in cabinets, held by technicians, in scooters, unknown",
    labelNames: ["location"],
    registers: [ctx.registry],
    async collect() {
      const { by_location } = await counts();
      for (const location of LOCATIONS) this.set({ location }, by_location.find((l) => l.location === location)?.count ?? 0);
    },
  });
  new Gauge({
    name: "fleet_accumulators_in_cabinets_by_charge",
    help: "Accumulators in cabinets per charge band (0-9 ... 90-100 %)",
    labelNames: ["band"],
    registers: [ctx.registry],
    async collect() {
      const { charge_histogram } = await counts();
      for (let bucket = 0; bucket < 10; bucket++) {
        const band = bucket === 9 ? "90-100" : `${bucket * 10}-${bucket * 10 + 9}`;
        this.set({ band }, charge_histogram.find((b) => b.bucket === bucket)?.count ?? 0);
      }
    },
  });
}
