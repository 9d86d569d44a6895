// The newbie's application (SPEC 3.3 item 1): city (trackstory position -> geobase), rented car
// (fleet-rent) and phone id (driver-profiles) gathered concurrently, then ONE row written to the
// CRM `new_drivers` table. Any source failing fails the whole application before anything is
// written (the matching retries it on a durable timer); the CRM write is idempotent by matching,
// so a retry after a lost answer never adds a second row.
import { driverKey } from "../../integrations/driverKey.ts";
import { regionOf } from "../../integrations/trackstory/index.ts";
import type { ApplicationInput } from "../../machines/matching.machine.ts";
import type { MentorshipPartners } from "./partners.ts";

/** The newbie's profile has no phone: no application can be made until driver-profiles has one. */
export class MissingPhoneError extends Error {
  override name = "MissingPhoneError";
  readonly code = "phone_unknown";
}

export async function apply(
  partners: Pick<MentorshipPartners, "bindings" | "trackstory" | "rentals" | "crm">,
  input: ApplicationInput,
  now: () => number,
  signal: AbortSignal,
): Promise<void> {
  const { park_id, driver_id } = input;
  const [bindings, positions, rented] = await Promise.all([
    partners.bindings.bindingsOf(park_id, driver_id, signal),
    partners.trackstory.positions([{ park_id, driver_id }]),
    partners.rentals.isRented(park_id, driver_id, signal),
  ]);
  const phone = bindings.find((b) => b.park_id === park_id && b.driver_id === driver_id)?.phone_pd_id ?? null;
  if (phone === null) throw new MissingPhoneError(`driver-profiles knows no phone of ${park_id}/${driver_id}`);
  const position = positions.get(driverKey(park_id, driver_id));
  await partners.crm.writeNewDriver({
    matching_id: input.matching_id,
    park_id,
    driver_id,
    city: position ? (regionOf(position.lat, position.lon) ?? null) : null,
    rented_car: rented,
    phone_pd_id: phone,
    created_at: new Date(now()),
  });
}
