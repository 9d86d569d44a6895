// A fake fleet-rent: which park drivers rent their car from the park, kept in memory.
import { Result, Schema } from "effect";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { Rental, RentalQuery } from "./client.ts";

export interface FleetRentSimulator extends Simulator {
  /** Sets whether each driver rents their car from the park (unknown drivers drive their own). */
  set(rentals: readonly Rental[]): void;
}

const SetRequest = Schema.Struct({ rentals: Schema.Array(Rental) });
const decodeQuery = Schema.decodeUnknownResult(RentalQuery);

/**
 * Serves `GET /v1/drivers/rental`, plus `POST /__fleet-rent/rentals` `{rentals}` for other processes.
 * @example const sim = await startFleetRentSimulator(); sim.set([{ park_id: "park-1", driver_id: "newbie-1", rented: true }])
 */
export async function startFleetRentSimulator(options: { readonly port?: number } = {}): Promise<FleetRentSimulator> {
  const rented = new Set<string>();
  const set = (rentals: readonly Rental[]) => {
    for (const r of rentals) {
      const key = `${r.park_id}/${r.driver_id}`;
      if (r.rented) rented.add(key);
      else rented.delete(key);
    }
  };
  const sim = await startSimulator({
    name: "fleet_rent",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.get("/v1/drivers/rental", (req, res) => {
        const query = decodeQuery(req.query_parameters);
        if (Result.isFailure(query)) return res.status(400).json({ code: "invalid_request", message: "park_id and driver_id are required" });
        const { park_id, driver_id } = query.success;
        res.json({ park_id, driver_id, rented: rented.has(`${park_id}/${driver_id}`) });
      });
      app.post("/__fleet-rent/rentals", async (req, res) => {
        const body = await decodeBody(req, res, SetRequest);
        if (!body) return;
        set(body.rentals);
        res.json({ set: body.rentals.length });
      });
    },
  });
  return { ...sim, set };
}
