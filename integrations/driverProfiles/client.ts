// The driver-profiles port: which person (driver licence, as a personal id) stands behind each
// park's driver profile, served as incremental updates by cursor. Its HTTP contract and client.
import { Schema } from "effect";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";

/** One park profile; `driver_license_pd_id` is null while the profile has no licence. */
export const DriverProfile = Schema.Struct({
  park_id: Schema.String,
  driver_id: Schema.String,
  driver_license_pd_id: Schema.NullOr(Schema.String),
});
export type DriverProfile = typeof DriverProfile.Type;

/** `GET /v1/profiles/updates?cursor=&limit=`: profiles changed after `cursor`, oldest change first. */
export const ProfilesPage = Schema.Struct({
  profiles: Schema.Array(DriverProfile),
  cursor: Schema.String,
  has_more: Schema.Boolean,
});

export interface UpdatesPage<T> {
  readonly items: readonly T[];
  readonly cursor: string;
  readonly hasMore: boolean;
}

export interface DriverProfiles {
  /** Profiles changed after `cursor`; absent cursor: every profile (a full load). */
  updates(cursor: string | undefined, limit: number): Promise<UpdatesPage<DriverProfile>>;
}

/** @example const profiles = new DriverProfilesClient({ baseUrl, timeoutMs: 2000, retries: 2 }); await profiles.updates(undefined, 1000) */
export class DriverProfilesClient implements DriverProfiles {
  readonly #http: JsonClient;

  constructor(options: PartnerClientOptions) {
    this.#http = createJsonClient({ ...options, system: "driver_profiles" });
  }

  async updates(cursor: string | undefined, limit: number): Promise<UpdatesPage<DriverProfile>> {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor === undefined ? {} : { cursor }) });
    const page = await this.#http.request("GET", `/v1/profiles/updates?${query}`, undefined, ProfilesPage);
    return { items: page.profiles, cursor: page.cursor, hasMore: page.has_more };
  }
}
