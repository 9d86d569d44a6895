// The seed's product metric of mentorship (applications to the programme) as a Prometheus gauge,
// read from the projection at each scrape: every instance reports the same, cluster-wide, numbers.
import { Gauge } from "prom-client";
import { MATCHING_STATUSES } from "../../machines/matching.machine.ts";
import { matchingTotals } from "../../storage/mentorshipRepository.ts";
import type { ServiceContext } from "../Service.ts";

export function mentorshipGauges(ctx: ServiceContext): void {
  new Gauge({
    name: "fleet_matchings",
    help: "Mentorship applications per status, live and archived",
    labelNames: ["status"],
    registers: [ctx.registry],
    async collect() {
      const totals = await matchingTotals(ctx.db.sql);
      for (const status of MATCHING_STATUSES) this.set({ status }, totals.find((t) => t.status === status)?.count ?? 0);
    },
  });
}
