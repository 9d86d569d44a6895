// The driver-trackstory port: the last known position of park drivers, asked in bulk. Its HTTP
// contract and client.
import { driverKey } from "../driverKey.ts";
import { Schema } from "effect";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";

const DriverRef = Schema.Struct({ park_id: Schema.String, driver_id: Schema.String });

/** `POST /v1/positions` `{drivers: [{park_id, driver_id}]}` (at most 1000). */
export const PositionsRequest = Schema.Struct({ drivers: Schema.Array(DriverRef).check(Schema.isMaxLength(1000)) });

export const Position = Schema.Struct({
  park_id: Schema.String,
  driver_id: Schema.String,
  lat: Schema.Number.check(Schema.isBetween({ minimum: -90, maximum: 90 })),
  lon: Schema.Number.check(Schema.isBetween({ minimum: -180, maximum: 180 })),
});
export type Position = typeof Position.Type;

/** Drivers without a known position are left out. */
export const PositionsResponse = Schema.Struct({ positions: Schema.Array(Position) });

export interface Trackstory {
  /** Positions by `park_id/driver_id`; drivers without a known position are absent. */
  positions(drivers: readonly { park_id: string; driver_id: string }[]): Promise<Map<string, Position>>;
}

/** @example const track = new TrackstoryClient({ baseUrl, timeoutMs: 2000, retries: 2 }); await track.positions([{ park_id, driver_id }]) */
export class TrackstoryClient implements Trackstory {
  readonly #http: JsonClient;

  constructor(options: PartnerClientOptions) {
    this.#http = createJsonClient({ ...options, system: "trackstory" });
  }

  async positions(drivers: readonly { park_id: string; driver_id: string }[]): Promise<Map<string, Position>> {
    const found = new Map<string, Position>();
    for (let i = 0; i < drivers.length; i += 1000) {
      const batch = drivers.slice(i, i + 1000).map((d) => ({ park_id: d.park_id, driver_id: d.driver_id }));
      const out = await this.#http.request("POST", "/v1/positions", { drivers: batch }, PositionsResponse);
      for (const p of out.positions) found.set(driverKey(p.park_id, p.driver_id), p);
    }
    return found;
  }
}
