// The driver-profiles port: which person (driver licence, as a personal id) stands behind each
// park's driver profile, with the driver's name and phone (as a personal id); served as
// incremental updates by cursor, and as every binding of one person on request. Its HTTP contract and client.
import { Effect, Schema } from "effect";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";

/** Absent on the wire (a profile without it, or an older partner) reads as null. */
const NullableString = Schema.NullOr(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed(null)));

/**
 * One park profile. `driver_license_pd_id` is null while the profile has no licence; the person's
 * profiles in other parks share it. `phone_pd_id` is the personal id of the driver's phone (the
 * number itself only from personal), `name` the driver's full name as the park keeps it.
 */
export const DriverProfile = Schema.Struct({
  park_id: Schema.String,
  driver_id: Schema.String,
  driver_license_pd_id: Schema.NullOr(Schema.String),
  phone_pd_id: NullableString,
  name: NullableString,
});
export type DriverProfile = typeof DriverProfile.Type;
/** A profile as written to the simulator or the wire: `phone_pd_id` and `name` may be left out. */
export type DriverProfileInput = typeof DriverProfile.Encoded;

/** `GET /v1/profiles/updates?cursor=&limit=`: profiles changed after `cursor`, oldest change first. */
export const ProfilesPage = Schema.Struct({
  profiles: Schema.Array(DriverProfile),
  cursor: Schema.String,
  has_more: Schema.Boolean,
});

/** `POST /v1/profiles/bindings` `{park_id, driver_id}`: every profile of the same person, that one included. */
export const BindingsRequest = Schema.Struct({ park_id: Schema.NonEmptyString, driver_id: Schema.NonEmptyString });
export const BindingsResponse = Schema.Struct({ profiles: Schema.Array(DriverProfile) });

export interface UpdatesPage<T> {
  readonly items: readonly T[];
  readonly cursor: string;
  readonly hasMore: boolean;
}

export interface DriverProfiles {
  /** Profiles changed after `cursor`; absent cursor: every profile (a full load). */
  updates(cursor: string | undefined, limit: number): Promise<UpdatesPage<DriverProfile>>;
}

export interface DriverBindings {
  /**
   * Every park profile of the person behind `(parkId, driverId)`, that one included, ordered by
   * park and driver id: the profiles sharing its licence, or only itself while it has none.
   * Empty for a profile driver-profiles does not know. Asked of the partner on each call (never a cache).
   */
  bindingsOf(parkId: string, driverId: string, signal?: AbortSignal): Promise<readonly DriverProfile[]>;
}

/**
 * @example const profiles = new DriverProfilesClient({ baseUrl, timeoutMs: 2000, retries: 2 });
 *          await profiles.updates(undefined, 1000); await profiles.bindingsOf("park-1", "newbie-1")
 */
export class DriverProfilesClient implements DriverProfiles, DriverBindings {
  readonly #http: JsonClient;

  constructor(options: PartnerClientOptions) {
    this.#http = createJsonClient({ ...options, system: "driver_profiles" });
  }

  async updates(cursor: string | undefined, limit: number): Promise<UpdatesPage<DriverProfile>> {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor === undefined ? {} : { cursor }) });
    const page = await this.#http.request("GET", `/v1/profiles/updates?${query}`, undefined, ProfilesPage);
    return { items: page.profiles, cursor: page.cursor, hasMore: page.has_more };
  }

  async bindingsOf(parkId: string, driverId: string, signal?: AbortSignal): Promise<readonly DriverProfile[]> {
    const body = { park_id: parkId, driver_id: driverId };
    return (await this.#http.request("POST", "/v1/profiles/bindings", body, BindingsResponse, { signal })).profiles;
  }
}
