// A customer's favourite locations and regular routes: add (bounded per customer) and remove.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import type { Added } from "../../../services/customers/customerBook.ts";
import { conflict, notFound } from "../../errors.ts";
import { route, type Identity } from "../../route.ts";
import type { Customer } from "../../../storage/customerRepository.ts";
import { CustomerPath, locationView, parkOf, prefix, routeView, Text, Uuid, type CustomerRouteDeps } from "./common.ts";

const Lat = Schema.Finite.check(Schema.isBetween({ minimum: -90, maximum: 90 }));
const Lon = Schema.Finite.check(Schema.isBetween({ minimum: -180, maximum: 180 }));

export const Location = Schema.Struct({ label: Schema.optional(Text(100)), address: Text(500), lat: Lat, lon: Lon });
const RoutePoint = Schema.Struct({ address: Text(500), lat: Lat, lon: Lon });
const Schedule = Schema.Struct({
  days: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 7 }))).check(Schema.isMinLength(1), Schema.isMaxLength(7), Schema.isUnique()),
  time: Schema.String.check(Schema.isPattern(/^([01]\d|2[0-3]):[0-5]\d$/, { message: "expected HH:MM" })),
});
export const Route = Schema.Struct({
  label: Schema.optional(Text(100)),
  points: Schema.Array(RoutePoint).check(Schema.isMinLength(2), Schema.isMaxLength(10)),
  schedule: Schema.optional(Schedule),
});

const LocationPath = Schema.Struct({ customer_id: Uuid, location_id: Uuid });
const RoutePath = Schema.Struct({ customer_id: Uuid, route_id: Uuid });

/** 201 with the item; 404 for a customer this park does not have; 409 past the limit. */
function added<T>(result: Added<T>, what: "location" | "route", show: (item: T) => unknown) {
  if (result.kind === "not_found") throw notFound("customer");
  if (result.kind === "limit") throw conflict(`too_many_${what}s`, `a customer keeps at most ${result.limit} ${what}s`, { limit: result.limit });
  return { status: 201, body: show(result.item) };
}

export function locationAndRouteRoutes(app: Server, deps: CustomerRouteDeps): void {
  const { customers } = deps;

  /** A repeated add answers from the customer as stored now (the idempotency store keeps only the id). */
  const fromStore = <T>(what: "location" | "route", items: (c: Customer) => T[], idOf: (item: T) => string, show: (item: T) => unknown) => ({
    keep: (body: unknown) => ({ id: idOf(body as T) }),
    replay: async (kept: { id: string }, { params, identity }: { params: { customer_id: string }; identity: Identity }) => {
      const customer = await customers.get(parkOf(identity), params.customer_id);
      const item = customer && items(customer).find((i) => idOf(i) === kept.id);
      if (!item) throw notFound(what);
      return { status: 201, body: show(item) };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/customers/:customer_id/locations`,
    role: "fleet",
    doc: { summary: "Add a saved location", success: [201], errors: [404, 409] },
    params: CustomerPath,
    body: Location,
    idempotent: true,
    personalAnswer: fromStore(
      "location",
      (c) => c.locations,
      (l) => l.location_id,
      locationView,
    ),
    handle: async ({ params, body, identity, newId }) =>
      added(await customers.addLocation(parkOf(identity), params.customer_id, newId(), body), "location", locationView),
  });

  route(app, deps, {
    method: "delete",
    path: `${prefix}/customers/:customer_id/locations/:location_id`,
    role: "fleet",
    doc: { summary: "Remove a saved location", success: [204], errors: [404] },
    params: LocationPath,
    handle: async ({ params, identity }) => {
      if (!(await customers.remove(parkOf(identity), params.customer_id, "locations", params.location_id))) throw notFound("location");
      return { status: 204, body: null };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/customers/:customer_id/routes`,
    role: "fleet",
    doc: { summary: "Add a saved route", success: [201], errors: [404, 409] },
    params: CustomerPath,
    body: Route,
    idempotent: true,
    personalAnswer: fromStore(
      "route",
      (c) => c.routes,
      (r) => r.route_id,
      routeView,
    ),
    handle: async ({ params, body, identity, newId }) =>
      added(await customers.addRoute(parkOf(identity), params.customer_id, newId(), body), "route", routeView),
  });

  route(app, deps, {
    method: "delete",
    path: `${prefix}/customers/:customer_id/routes/:route_id`,
    role: "fleet",
    doc: { summary: "Remove a saved route", success: [204], errors: [404] },
    params: RoutePath,
    handle: async ({ params, identity }) => {
      if (!(await customers.remove(parkOf(identity), params.customer_id, "routes", params.route_id))) throw notFound("route");
      return { status: 204, body: null };
    },
  });
}
