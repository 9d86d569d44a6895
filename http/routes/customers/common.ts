// What the customer routes share: their deps, the park of the caller, path ids, text checks and
// the views of a customer, a location and a route.
import { Schema } from "effect";
import type { Personal } from "../../../integrations/personal/index.ts";
import type { CustomerBook } from "../../../services/customers/customerBook.ts";
import type { Customer, CustomerLocation, CustomerRoute } from "../../../storage/customerRepository.ts";
import type { Identity, RouteDeps } from "../../route.ts";

export const prefix = "/fleet/customers/v1";

export interface CustomerRouteDeps extends RouteDeps {
  personal: Personal;
  /** Reads and writes (each write publishing its events after commit). */
  customers: CustomerBook;
}

type Fleet = Extract<Identity, { role: "fleet" }>;
export const parkOf = (identity: Identity) => (identity as Fleet).park_id;

/** Non-blank text of at most `max` characters. */
export const Text = (max: number) => Schema.String.check(Schema.isMaxLength(max), Schema.isPattern(/\S/, { message: "must not be blank" }));
export const Uuid = Schema.String.check(Schema.isUUID());
export const CustomerPath = Schema.Struct({ customer_id: Uuid });

export const locationView = (l: CustomerLocation) => ({ ...l, created_at: l.created_at.toISOString() });
export const routeView = (r: CustomerRoute) => ({ ...r, created_at: r.created_at.toISOString() });

/** The customer as the dispatcher sees it: phone and name read back from personal for display. */
export async function customerView(personal: Personal, c: Customer, known: { phone?: string; name?: string } = {}) {
  const [phone, name] = await Promise.all([
    known.phone ?? personal.retrieve("phones", c.personal_phone_id),
    c.personal_name_id === null ? null : (known.name ?? personal.retrieve("names", c.personal_name_id)),
  ]);
  return {
    customer_id: c.customer_id,
    phone: phone ?? null,
    name: name ?? null,
    sms_enabled: c.sms_enabled,
    order_options: c.order_options,
    locations: c.locations.map(locationView),
    routes: c.routes.map(routeView),
    created_at: c.created_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
  };
}
