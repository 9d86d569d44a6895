// A fake driver-profiles service: profiles in a change log, served as incremental updates.
import { Schema } from "effect";
import { ChangeLog } from "../changeLog.ts";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { DriverProfile } from "./client.ts";

export interface DriverProfilesSimulator extends Simulator {
  /** Adds or changes profiles (a new licence, or null to unlink one). */
  upsert(profiles: readonly DriverProfile[]): void;
}

const UpsertRequest = Schema.Struct({ profiles: Schema.Array(DriverProfile) });

/**
 * Serves `GET /v1/profiles/updates`, plus `POST /__driver-profiles/profiles` `{profiles}` for other processes.
 * @example const sim = await startDriverProfilesSimulator(); sim.upsert([{ park_id, driver_id, driver_license_pd_id }])
 */
export async function startDriverProfilesSimulator(options: { readonly port?: number } = {}): Promise<DriverProfilesSimulator> {
  const log = new ChangeLog<DriverProfile>();
  const upsert = (profiles: readonly DriverProfile[]) => {
    for (const p of profiles) log.put(`${p.park_id}/${p.driver_id}`, p);
  };
  const sim = await startSimulator({
    name: "driver_profiles",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.get("/v1/profiles/updates", (req, res) => {
        const limit = Math.min(Number(req.query_parameters.limit ?? 1000), 10_000);
        const page = Number.isInteger(limit) && limit > 0 ? log.after(req.query_parameters.cursor, limit) : undefined;
        if (!page) return res.status(400).json({ code: "invalid_request", message: "bad cursor or limit" });
        res.json({ profiles: page.items, cursor: page.cursor, has_more: page.hasMore });
      });
      app.post("/__driver-profiles/profiles", async (req, res) => {
        const body = await decodeBody(req, res, UpsertRequest);
        if (!body) return;
        upsert(body.profiles);
        res.json({ upserted: body.profiles.length });
      });
    },
  });
  return { ...sim, upsert };
}
