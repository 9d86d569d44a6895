// The fleet-rent port: whether a park driver drives a car rented from the park or their own. Its
// HTTP contract and client.
import { Schema } from "effect";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";

/** `GET /v1/drivers/rental?park_id=&driver_id=`: a driver fleet-rent knows nothing of drives their own car. */
export const RentalQuery = Schema.Struct({ park_id: Schema.NonEmptyString, driver_id: Schema.NonEmptyString });
export const Rental = Schema.Struct({ park_id: Schema.String, driver_id: Schema.String, rented: Schema.Boolean });
export type Rental = typeof Rental.Type;

export interface FleetRentClient {
  /** True when the driver's car is rented from the park `parkId`; false for their own car. */
  isRented(parkId: string, driverId: string, signal?: AbortSignal): Promise<boolean>;
}

/**
 * Reads only, so the JSON client retries transient failures; failures are `fleet_rent_*` partner errors.
 * @example const rent = fleetRentClient({ baseUrl, timeoutMs: 2000, retries: 2 }); await rent.isRented("park-1", "newbie-1")
 */
export function fleetRentClient(options: PartnerClientOptions): FleetRentClient {
  const http: JsonClient = createJsonClient({ ...options, system: "fleet_rent" });
  return {
    async isRented(parkId, driverId, signal) {
      const query = new URLSearchParams({ park_id: parkId, driver_id: driverId });
      return (await http.request("GET", `/v1/drivers/rental?${query}`, undefined, Rental, { signal })).rented;
    },
  };
}
