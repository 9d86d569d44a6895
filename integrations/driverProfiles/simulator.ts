// A fake driver-profiles service: profiles in a change log, served as incremental updates and as
// the bindings of one person (the profiles sharing a licence).
import { Schema } from "effect";
import { ChangeLog } from "../changeLog.ts";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { BindingsRequest, DriverProfile, type DriverProfileInput } from "./client.ts";

export interface DriverProfilesSimulator extends Simulator {
  /** Adds or changes profiles (a new licence, or null to unlink one; `phone_pd_id` and `name` default to null). */
  upsert(profiles: readonly DriverProfileInput[]): void;
}

const UpsertRequest = Schema.Struct({ profiles: Schema.Array(DriverProfile) });
const decodeProfile = Schema.decodeSync(DriverProfile);
const byParkThenDriver = (a: DriverProfile, b: DriverProfile) => a.park_id.localeCompare(b.park_id) || a.driver_id.localeCompare(b.driver_id);

/**
 * Serves `GET /v1/profiles/updates` and `POST /v1/profiles/bindings`, plus
 * `POST /__driver-profiles/profiles` `{profiles}` for other processes.
 * @example const sim = await startDriverProfilesSimulator(); sim.upsert([{ park_id, driver_id, driver_license_pd_id, phone_pd_id, name }])
 */
export async function startDriverProfilesSimulator(options: { readonly port?: number } = {}): Promise<DriverProfilesSimulator> {
  const log = new ChangeLog<DriverProfile>();
  // The profiles of each licence: a person's bindings without scanning every profile (benches load 100,000).
  const byLicence = new Map<string, Set<string>>();
  const upsert = (profiles: readonly DriverProfileInput[]) => {
    for (const p of profiles) {
      const key = `${p.park_id}/${p.driver_id}`;
      const before = log.get(key)?.driver_license_pd_id ?? null;
      const profile = decodeProfile(p);
      log.put(key, profile);
      if (before !== null && before !== profile.driver_license_pd_id) byLicence.get(before)?.delete(key);
      if (profile.driver_license_pd_id !== null) {
        const keys = byLicence.get(profile.driver_license_pd_id) ?? new Set<string>();
        byLicence.set(profile.driver_license_pd_id, keys.add(key));
      }
    }
  };
  const bindingsOf = (parkId: string, driverId: string): DriverProfile[] => {
    const profile = log.get(`${parkId}/${driverId}`);
    if (profile === undefined) return [];
    const licence = profile.driver_license_pd_id;
    if (licence === null) return [profile];
    return [...(byLicence.get(licence) ?? [])].map((key) => log.get(key)!).sort(byParkThenDriver);
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
      app.post("/v1/profiles/bindings", async (req, res) => {
        const body = await decodeBody(req, res, BindingsRequest);
        if (!body) return;
        res.json({ profiles: bindingsOf(body.park_id, body.driver_id) });
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
