// What mentorship needs of its partners, as the narrow ports its modules take: the driver's park
// bindings with name and phone id (driver-profiles), phones (personal), positions (trackstory),
// rentals (fleet-rent), bulk notifications (client-events) and the CRM tables. The integration
// clients fit these as they are; tests and the wiring hand them in.
import type { Personal } from "../../integrations/personal/index.ts";
import type { Trackstory } from "../../integrations/trackstory/index.ts";

/** One park profile of a driver, as driver-profiles gives it. */
export interface Binding {
  readonly park_id: string;
  readonly driver_id: string;
  readonly driver_license_pd_id: string | null;
  readonly phone_pd_id: string | null;
  readonly name: string | null;
}

export interface Bindings {
  /** Every park profile of the person behind `(parkId, driverId)`, that one included; empty when unknown. */
  bindingsOf(parkId: string, driverId: string, signal?: AbortSignal): Promise<readonly Binding[]>;
}

export interface Rentals {
  isRented(parkId: string, driverId: string, signal?: AbortSignal): Promise<boolean>;
}

export interface Notifications {
  pushBulk(
    idempotencyKey: string,
    notifications: readonly { park_id: string; driver_id: string; event: string; payload: Record<string, unknown> }[],
    signal?: AbortSignal,
  ): Promise<void>;
}

export interface Crm {
  writeNewDriver(row: {
    matching_id: string;
    park_id: string;
    driver_id: string;
    city: string | null;
    rented_car: boolean;
    phone_pd_id: string;
    created_at: Date;
  }): Promise<void>;
  readDistribution(): Promise<
    readonly { newbie_matching_id: string; mentor_park_id: string; mentor_driver_id: string; connected_dttm: Date; original_connected_dttm: Date | null }[]
  >;
  markDistributionImported(newbieMatchingId: string, connectedDttm: Date): Promise<void>;
  readResults(matchingIds: readonly string[], day: 7 | 14): Promise<readonly { matching_id: string; day: 7 | 14; result: Readonly<Record<string, unknown>> }[]>;
  readPromocodes(matchingIds: readonly string[]): Promise<readonly { matching_id: string; promocode: string; issued_at: Date }[]>;
}

export interface MentorshipPartners {
  readonly bindings: Bindings;
  readonly personal: Pick<Personal, "retrieve">;
  readonly trackstory: Trackstory;
  readonly rentals: Rentals;
  readonly notifications: Notifications;
  readonly crm: Crm;
}
