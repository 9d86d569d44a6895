// A fake driver-categories service: each driver's categories in a change log, served as updates.
import { Schema } from "effect";
import { ChangeLog } from "../changeLog.ts";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { DriverCategories } from "./client.ts";

export interface DriverCategoriesSimulator extends Simulator {
  /** Sets drivers' categories (replacing what they had). */
  set(drivers: readonly DriverCategories[]): void;
}

const SetRequest = Schema.Struct({ drivers: Schema.Array(DriverCategories) });

/**
 * Serves `GET /v1/categories/updates`, plus `POST /__driver-categories/drivers` `{drivers}` for other processes.
 * @example const sim = await startDriverCategoriesSimulator(); sim.set([{ park_id, driver_id, categories: ["econom"] }])
 */
export async function startDriverCategoriesSimulator(options: { readonly port?: number } = {}): Promise<DriverCategoriesSimulator> {
  const log = new ChangeLog<DriverCategories>();
  const set = (drivers: readonly DriverCategories[]) => {
    for (const d of drivers) log.put(`${d.park_id}/${d.driver_id}`, d);
  };
  const sim = await startSimulator({
    name: "driver_categories",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.get("/v1/categories/updates", (req, res) => {
        const limit = Math.min(Number(req.query_parameters.limit ?? 1000), 10_000);
        const page = Number.isInteger(limit) && limit > 0 ? log.after(req.query_parameters.cursor, limit) : undefined;
        if (!page) return res.status(400).json({ code: "invalid_request", message: "bad cursor or limit" });
        res.json({ drivers: page.items, cursor: page.cursor, has_more: page.hasMore });
      });
      app.post("/__driver-categories/drivers", async (req, res) => {
        const body = await decodeBody(req, res, SetRequest);
        if (!body) return;
        set(body.drivers);
        res.json({ set: body.drivers.length });
      });
    },
  });
  return { ...sim, set };
}
