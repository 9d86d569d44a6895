// The partners mentorship works with, as the ports its modules take: every binding of a driver
// with his name and phone id (driver-profiles), phones (personal), positions (trackstory),
// rentals (fleet-rent), bulk notifications (client-events) and the CRM tables.
import type { ClientEventsClient } from "../../integrations/clientEvents/index.ts";
import type { CrmTables } from "../../integrations/crm/index.ts";
import type { DriverBindings, DriverProfile } from "../../integrations/driverProfiles/index.ts";
import type { FleetRentClient } from "../../integrations/fleetRent/index.ts";
import type { Personal } from "../../integrations/personal/index.ts";
import type { Trackstory } from "../../integrations/trackstory/index.ts";

/** One park profile of a driver, as driver-profiles gives it. */
export type Binding = DriverProfile;

export interface MentorshipPartners {
  readonly bindings: DriverBindings;
  readonly personal: Pick<Personal, "retrieve">;
  readonly trackstory: Trackstory;
  readonly rentals: FleetRentClient;
  readonly notifications: ClientEventsClient;
  readonly crm: CrmTables;
}
