// The seed's product metrics of mailings as Prometheus gauges, read from the projection at each
// scrape (every instance reports the same, cluster-wide, numbers): mailings per status, and the
// drivers reached by those sent.
import { Gauge } from "prom-client";
import { mailingTotals } from "../../storage/mailingRepository.ts";
import { oncePerScrape } from "../scrapeGauges.ts";
import type { ServiceContext } from "../Service.ts";

const STATUSES = ["created", "sending", "sent", "cancelled", "failed"] as const;

export function mailingGauges(ctx: ServiceContext): void {
  const totals = oncePerScrape(() => mailingTotals(ctx.db.sql));
  new Gauge({
    name: "fleet_mailings",
    help: "Mailings per status, every park",
    labelNames: ["status"],
    registers: [ctx.registry],
    async collect() {
      const { byStatus } = await totals();
      for (const status of STATUSES) this.set({ status }, byStatus.find((s) => s.status === status)?.count ?? 0);
    },
  });
  new Gauge({
    name: "fleet_mailing_drivers_reached",
    help: "Drivers reached by sent mailings (recipients), every park",
    registers: [ctx.registry],
    async collect() {
      this.set((await totals()).recipientsReached);
    },
  });
}
