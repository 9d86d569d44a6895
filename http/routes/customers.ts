// Park customers (SPEC 3.5), role fleet, prefix /fleet/customers/v1; takeout role internal.
//
// Rules callers can rely on:
// - Every query carries the caller's park (X-Park-Id): another park's customer, location or
//   route answers 404 exactly like an id that does not exist.
// - Phones are normalised to E.164 (`+7`, `8`, `7` and bare 10-digit Russian forms; spaces,
//   dashes, dots, parentheses) and exchanged in personal; an unparsable phone is 400 at
//   `body.phone`. The raw phone and name are sent to personal and back to the caller only: this
//   service's tables, logs, metrics and events hold personal ids.
// - personal down: 503 `personal_unavailable` (504 `personal_timeout` when it is slow), nothing written.
// - Unknown fields anywhere in a body are 400 naming them (`body.order_options.tarif`): a typo
//   must not be silently dropped from a passenger's profile. Lists are bounded (route points
//   2..10, requirements <= 20, takeout ids <= 100): longer is 400 at the list's path.
// - `PUT /customers` is the upsert after every order: 201 when it created the customer, else 200;
//   fields left out keep their values; it is idempotent by nature and takes no Idempotency-Key. The POSTs that add a location or a route
//   and the takeout delete accept Idempotency-Key (their answers hold no personal data, as the
//   stored first answer must not).
// - `PATCH`: each given field replaces the stored one; `name: null` clears the name;
//   `order_options` is replaced as a whole.
// - Each change publishes `fleet.events.customer.<park_id>` after commit (docs/events/customer.md),
//   at least once: the event is in the outbox with the change, the runtime's relay retries it
//   (services/customers/customerBook.ts).
//
// The routes by resource: customers/customer.ts, customers/locationsAndRoutes.ts, customers/takeout.ts.
import type { Server } from "hyper-express";
import type { CustomerRouteDeps } from "./customers/common.ts";
import { customerResourceRoutes } from "./customers/customer.ts";
import { locationAndRouteRoutes } from "./customers/locationsAndRoutes.ts";
import { takeoutRoutes } from "./customers/takeout.ts";

export type { CustomerRouteDeps } from "./customers/common.ts";

/**
 * Registers the customer routes.
 * @example customerRoutes(http.app, { ...http.deps, personal, customers: new CustomerBook({ sql, logger, dispatch: (m) => system.outbox.dispatch(m), now: () => clock.now() }) })
 */
export function customerRoutes(app: Server, deps: CustomerRouteDeps): void {
  customerResourceRoutes(app, deps);
  locationAndRouteRoutes(app, deps);
  takeoutRoutes(app, deps);
}
