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
//   at least once: the event is in the outbox with the change, the runtime's relay retries it.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import type { Personal } from "../../integrations/personal/index.ts";
import { normalizePhone } from "../../integrations/personal/index.ts";
import type { OutboxMessage } from "../../storage/actorStore.ts";
import {
  addLocation,
  addRoute,
  deleteCustomer,
  eraseByPhoneIds,
  findCustomerByPhone,
  getCustomer,
  removeVectorItem,
  takeoutStatus,
  updateCustomer,
  upsertCustomer,
  type Customer,
  type CustomerLocation,
  type CustomerRoute,
  type PendingEvent,
  type VectorWrite,
  type WriteContext,
} from "../../storage/customerRepository.ts";
import { conflict, notFound } from "../errors.ts";
import { route, type Identity, type RouteDeps } from "../route.ts";

const prefix = "/fleet/customers/v1";

const Text = (max: number) => Schema.String.check(Schema.isMaxLength(max), Schema.isPattern(/\S/, { message: "must not be blank" }));
const Phone = Schema.String.check(
  Schema.isMaxLength(32),
  Schema.makeFilter((s: string) => normalizePhone(s) !== undefined || "expected a phone number: +79161234567, 8 (916) 123-45-67 or another E.164 number"),
);
const Name = Text(200);
const Code = Schema.String.check(Schema.isPattern(/^[a-z0-9_]{1,64}$/, { message: "expected 1..64 of a-z, 0-9, _" }));
const Lat = Schema.Finite.check(Schema.isBetween({ minimum: -90, maximum: 90 }));
const Lon = Schema.Finite.check(Schema.isBetween({ minimum: -180, maximum: 180 }));
const Uuid = Schema.String.check(Schema.isUUID());
const PdId = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100));

export const OrderOptions = Schema.Struct({
  tariff_class: Schema.optional(Code),
  payment_method: Schema.optional(Schema.Literals(["cash", "card", "corp"])),
  requirements: Schema.optional(Schema.Array(Code).check(Schema.isMaxLength(20), Schema.isUnique())),
});
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

const Find = Schema.Struct({ phone: Phone });
const Upsert = Schema.Struct({
  phone: Phone,
  name: Schema.optional(Name),
  sms_enabled: Schema.optional(Schema.Boolean),
  order_options: Schema.optional(OrderOptions),
});
const Patch = Schema.Struct({
  name: Schema.optional(Schema.NullOr(Name)),
  sms_enabled: Schema.optional(Schema.Boolean),
  order_options: Schema.optional(OrderOptions),
});
const CustomerPath = Schema.Struct({ customer_id: Uuid });
const LocationPath = Schema.Struct({ customer_id: Uuid, location_id: Uuid });
const RoutePath = Schema.Struct({ customer_id: Uuid, route_id: Uuid });
const TakeoutDelete = Schema.Struct({
  phone_pd_ids: Schema.Array(PdId).check(Schema.isMinLength(1), Schema.isMaxLength(100)),
  request_id: Schema.optional(Schema.String.check(Schema.isMaxLength(128))),
});
const TakeoutStatusQuery = Schema.Struct({ phone_pd_id: PdId });

export interface CustomerRouteDeps extends RouteDeps {
  personal: Personal;
  /** Hands committed outbox events to the runtime's relay (`system.outbox.dispatch`). */
  dispatch: (messages: readonly OutboxMessage[]) => void;
  now: () => number;
  /** Subject prefix of public events, as the actor system's `eventPrefix`; default `fleet.events`. */
  eventPrefix?: string;
  /** Per customer; adding past them is 409. Defaults: 50 locations, 20 routes. */
  limits?: { locations: number; routes: number };
}

type Fleet = Extract<Identity, { role: "fleet" }>;
const parkOf = (identity: Identity) => (identity as Fleet).park_id;

const locationView = (l: CustomerLocation) => ({ ...l, created_at: l.created_at.toISOString() });
const routeView = (r: CustomerRoute) => ({ ...r, created_at: r.created_at.toISOString() });

/**
 * Registers the customer routes.
 * @example customerRoutes(http.app, { ...http.deps, personal, dispatch: (m) => system.outbox.dispatch(m), now: () => clock.now() })
 */
export function customerRoutes(app: Server, deps: CustomerRouteDeps): void {
  const { sql, personal } = deps;
  const limits = deps.limits ?? { locations: 50, routes: 20 };
  const write = (): WriteContext => ({ at: new Date(deps.now()), eventPrefix: deps.eventPrefix ?? "fleet.events" });

  /** The customer as the dispatcher sees it: phone and name read back from personal for display. */
  async function view(c: Customer, known: { phone?: string; name?: string } = {}) {
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

  // After commit and off the response path: the relay publishes and clears the outbox rows, and
  // its sweep retries what fails here.
  function publishAfterCommit(events: readonly PendingEvent[]): void {
    for (const e of events) {
      deps.logger.info(`customer ${e.payload.state}`, { park_id: e.payload.park_id, customer_id: e.payload.id, seq: e.payload.seq });
    }
    deps.dispatch(events.map((e) => ({ messageId: e.messageId, kind: "event" as const, target: e.subject, payload: e.payload })));
  }

  route(app, deps, {
    method: "post",
    path: `${prefix}/customers/find`,
    role: "fleet",
    body: Find,
    handle: async ({ body, identity }) => {
      const phone = normalizePhone(body.phone)!;
      // `find`, not `store`: looking a number up must not register it in personal.
      const phoneId = await personal.find("phones", phone);
      const customer = phoneId === undefined ? undefined : await findCustomerByPhone(sql, parkOf(identity), phoneId);
      if (!customer) throw notFound("customer");
      return { status: 200, body: await view(customer, { phone }) };
    },
  });

  route(app, deps, {
    method: "put",
    path: `${prefix}/customers`,
    role: "fleet",
    body: Upsert,
    handle: async ({ body, identity }) => {
      const phone = normalizePhone(body.phone)!;
      const name = body.name?.trim();
      // Both exchanges before the transaction: personal down leaves nothing written.
      const [phoneId, nameId] = await Promise.all([personal.store("phones", phone), name === undefined ? undefined : personal.store("names", name)]);
      const fields = { ...(nameId === undefined ? {} : { nameId }), smsEnabled: body.sms_enabled, orderOptions: body.order_options };
      const written = await sql.begin((tx) => upsertCustomer(tx, parkOf(identity), phoneId, fields, write()));
      publishAfterCommit(written.events);
      return { status: written.created ? 201 : 200, body: await view(written.customer, { phone, ...(name === undefined ? {} : { name }) }) };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/customers/:customer_id`,
    role: "fleet",
    params: CustomerPath,
    handle: async ({ params, identity }) => {
      const customer = await getCustomer(sql, parkOf(identity), params.customer_id);
      if (!customer) throw notFound("customer");
      return { status: 200, body: await view(customer) };
    },
  });

  route(app, deps, {
    method: "patch",
    path: `${prefix}/customers/:customer_id`,
    role: "fleet",
    params: CustomerPath,
    body: Patch,
    handle: async ({ params, body, identity }) => {
      const park = parkOf(identity);
      // Another park's id must not even reach personal with a name.
      if (!(await getCustomer(sql, park, params.customer_id))) throw notFound("customer");
      const name = typeof body.name === "string" ? body.name.trim() : body.name;
      const nameId = typeof name === "string" ? await personal.store("names", name) : name;
      const fields = { ...(nameId === undefined ? {} : { nameId }), smsEnabled: body.sms_enabled, orderOptions: body.order_options };
      const updated = await sql.begin((tx) => updateCustomer(tx, park, params.customer_id, fields, write()));
      if (!updated) throw notFound("customer");
      publishAfterCommit(updated.events);
      return { status: 200, body: await view(updated.customer, typeof name === "string" ? { name } : {}) };
    },
  });

  route(app, deps, {
    method: "delete",
    path: `${prefix}/customers/:customer_id`,
    role: "fleet",
    params: CustomerPath,
    handle: async ({ params, identity }) => {
      const events = await sql.begin((tx) => deleteCustomer(tx, parkOf(identity), params.customer_id, write()));
      if (!events) throw notFound("customer");
      publishAfterCommit(events);
      return { status: 204, body: null };
    },
  });

  const added = <T>(result: VectorWrite<T>, what: "location" | "route", show: (item: T) => unknown) => {
    if (result.kind === "not_found") throw notFound("customer");
    if (result.kind === "limit") throw conflict(`too_many_${what}s`, `a customer keeps at most ${result.limit} ${what}s`, { limit: result.limit });
    publishAfterCommit(result.events);
    return { status: 201, body: show(result.item) };
  };

  route(app, deps, {
    method: "post",
    path: `${prefix}/customers/:customer_id/locations`,
    role: "fleet",
    params: CustomerPath,
    body: Location,
    idempotent: true,
    handle: async ({ params, body, identity }) =>
      added(await sql.begin((tx) => addLocation(tx, parkOf(identity), params.customer_id, body, limits.locations, write())), "location", locationView),
  });

  route(app, deps, {
    method: "delete",
    path: `${prefix}/customers/:customer_id/locations/:location_id`,
    role: "fleet",
    params: LocationPath,
    handle: async ({ params, identity }) => {
      const events = await sql.begin((tx) => removeVectorItem(tx, parkOf(identity), params.customer_id, "locations", params.location_id, write()));
      if (!events) throw notFound("location");
      publishAfterCommit(events);
      return { status: 204, body: null };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/customers/:customer_id/routes`,
    role: "fleet",
    params: CustomerPath,
    body: Route,
    idempotent: true,
    handle: async ({ params, body, identity }) =>
      added(await sql.begin((tx) => addRoute(tx, parkOf(identity), params.customer_id, body, limits.routes, write())), "route", routeView),
  });

  route(app, deps, {
    method: "delete",
    path: `${prefix}/customers/:customer_id/routes/:route_id`,
    role: "fleet",
    params: RoutePath,
    handle: async ({ params, identity }) => {
      const events = await sql.begin((tx) => removeVectorItem(tx, parkOf(identity), params.customer_id, "routes", params.route_id, write()));
      if (!events) throw notFound("route");
      publishAfterCommit(events);
      return { status: 204, body: null };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/takeout/v1/delete`,
    role: "internal",
    body: TakeoutDelete,
    idempotent: true,
    handle: async ({ body }) => {
      const { results, events } = await sql.begin((tx) => eraseByPhoneIds(tx, body.phone_pd_ids, write()));
      publishAfterCommit(events);
      deps.logger.info("takeout erased", { request_id: body.request_id, phone_pd_ids: results.length, customers_deleted: events.length });
      return { status: 200, body: { items: results.map((r) => ({ phone_pd_id: r.phoneId, status: "done", customers_deleted: r.customersDeleted })) } };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/takeout/v1/status`,
    role: "internal",
    query: TakeoutStatusQuery,
    handle: async ({ query }) => {
      const s = await takeoutStatus(sql, query.phone_pd_id);
      return {
        status: 200,
        body: {
          phone_pd_id: query.phone_pd_id,
          status: s.completed_at ? "done" : "not_requested",
          requested_at: s.requested_at?.toISOString() ?? null,
          completed_at: s.completed_at?.toISOString() ?? null,
          customers_deleted: s.customers_deleted,
          has_data: s.has_data,
        },
      };
    },
  });
}
