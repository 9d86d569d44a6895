// Park customers' tables (seed 001): every read and write is scoped by the caller's park, so
// another park's customer is as absent as one that never existed. Each write returns the
// revisions it made (`CustomerRevision`); the service turns them into public events.
import { randomUUID } from "node:crypto";
import type { Fragment, JSONValue } from "postgres";
import { insertOutbox, outboxMessageOf, type OutboxMessage, type StoredOutboxRow } from "./actorStore.ts";
import type { Queryable, Tx } from "./database.ts";

export interface OrderOptions {
  readonly tariff_class?: string;
  readonly payment_method?: string;
  readonly requirements?: readonly string[];
}

export interface RoutePoint {
  readonly address: string;
  readonly lat: number;
  readonly lon: number;
}

export interface RouteSchedule {
  /** ISO weekdays, 1 = Monday. */
  readonly days: readonly number[];
  /** Local "HH:MM". */
  readonly time: string;
}

export interface CustomerLocation {
  location_id: string;
  label: string | null;
  address: string;
  lat: number;
  lon: number;
  created_at: Date;
}

export interface CustomerRoute {
  route_id: string;
  label: string | null;
  points: RoutePoint[];
  schedule: RouteSchedule | null;
  created_at: Date;
}

export interface Customer {
  customer_id: string;
  park_id: string;
  personal_phone_id: string;
  personal_name_id: string | null;
  sms_enabled: boolean;
  order_options: OrderOptions;
  version: number;
  created_at: Date;
  updated_at: Date;
  locations: CustomerLocation[];
  routes: CustomerRoute[];
}

/** The parts of a customer a change can touch, as an `updated` revision names them. */
export const customerParts = ["name", "sms_enabled", "order_options", "locations", "routes"] as const;
export type CustomerPart = (typeof customerParts)[number];

/** A committed change of one customer: the version it made and what it touched. */
export interface CustomerRevision {
  customer_id: string;
  park_id: string;
  /** The customer's version after the change: 1 on creation, +1 per change, last + 1 on deletion. */
  seq: number;
  state: "created" | "updated" | "deleted";
  /** `updated` only. */
  changes?: CustomerPart[];
  /** `deleted` only: by the dispatcher's button or by a takeout erase request. */
  reason?: "dispatcher" | "takeout";
}

interface CustomerRecord extends Omit<Customer, "version" | "locations" | "routes" | "created_at"> {
  version: string | number;
  created_at: Date;
  locations: (Omit<CustomerLocation, "created_at"> & { created_at: string })[];
  routes: (Omit<CustomerRoute, "created_at"> & { created_at: string })[];
}

const columns = (sql: Queryable) => sql`c.customer_id, c.park_id, c.personal_phone_id, c.personal_name_id, c.sms_enabled,
  c.order_options, c.version, c.created_at, c.updated_at,
  coalesce((select json_agg(json_build_object('location_id', l.location_id, 'label', l.label, 'address', l.address,
      'lat', l.lat, 'lon', l.lon, 'created_at', l.created_at) order by l.created_at, l.location_id)
    from customer_locations l where l.customer_id = c.customer_id), '[]'::json) as locations,
  coalesce((select json_agg(json_build_object('route_id', r.route_id, 'label', r.label, 'points', r.points,
      'schedule', r.schedule, 'created_at', r.created_at) order by r.created_at, r.route_id)
    from customer_routes r where r.customer_id = c.customer_id), '[]'::json) as routes`;

const toCustomer = (r: CustomerRecord): Customer => ({
  ...r,
  version: Number(r.version),
  locations: r.locations.map((l) => ({ ...l, created_at: new Date(l.created_at) })),
  routes: r.routes.map((x) => ({ ...x, created_at: new Date(x.created_at) })),
});

/**
 * The customer with this phone id in this park, with locations and routes; one index lookup.
 * @example const c = await findCustomerByPhone(sql, parkId, phoneId)
 */
export async function findCustomerByPhone(sql: Queryable, parkId: string, phoneId: string): Promise<Customer | undefined> {
  const [row] = await sql<CustomerRecord[]>`select ${columns(sql)} from customers c
    where c.park_id = ${parkId} and c.personal_phone_id = ${phoneId}`;
  return row && toCustomer(row);
}

/** The customer by id, only if it belongs to this park. */
export async function getCustomer(sql: Queryable, parkId: string, customerId: string): Promise<Customer | undefined> {
  const [row] = await sql<CustomerRecord[]>`select ${columns(sql)} from customers c
    where c.park_id = ${parkId} and c.customer_id = ${customerId}`;
  return row && toCustomer(row);
}

export interface CustomerFields {
  /** `null` clears the name. */
  nameId?: string | null;
  smsEnabled?: boolean;
  /** Replaces the options as a whole. */
  orderOptions?: OrderOptions;
}

/**
 * How a write announces its revisions: each one's public event goes into the outbox with the write
 * (same statement or transaction) as `{type: "customer", id, park_id, seq, state, changes?, reason?,
 * at, event_id}`, the event id being also the message id.
 */
export interface RevisionEvents {
  /** A customer's subject is this followed by its id: a UUID is one subject token as it is. */
  subjectPrefix: string;
}

/** Revisions a write made and the outbox messages announcing them, to hand to the relay after commit. */
export interface Announced {
  revisions: CustomerRevision[];
  messages: OutboxMessage[];
}

export interface CustomerWrite extends Announced {
  /** The customer as committed, locations and routes included. */
  customer: Customer;
  created: boolean;
}

/**
 * Creates the customer of `(parkId, phoneId)` or updates the given fields of the existing one;
 * fields left out keep their values. A write that changes nothing makes no revision. One statement
 * (its own transaction) with its outbox message; a second only when a concurrent first upsert of
 * the same phone won the insert.
 */
export async function upsertCustomer(
  sql: Queryable,
  parkId: string,
  phoneId: string,
  fields: CustomerFields,
  at: Date,
  events: RevisionEvents,
): Promise<CustomerWrite> {
  for (;;) {
    const customerId = randomUUID();
    const written = await writeFields(sql, sql`c.park_id = ${parkId} and c.personal_phone_id = ${phoneId}`, fields, at, events, (given) =>
      insertCustomer(sql, { parkId, phoneId, customerId }, given, at),
    );
    if (written) return written;
  }
}

/** Edits the customer if it belongs to this park, in one statement with its outbox message; undefined otherwise. */
export function updateCustomer(
  sql: Queryable,
  parkId: string,
  customerId: string,
  fields: CustomerFields,
  at: Date,
  events: RevisionEvents,
): Promise<CustomerWrite | undefined> {
  return writeFields(sql, sql`c.park_id = ${parkId} and c.customer_id = ${customerId}`, fields, at, events);
}

interface WrittenRecord extends CustomerRecord {
  /** The revision made: null when nothing changed. */
  state: "created" | "updated" | null;
  changes: CustomerPart[];
  messages: StoredOutboxRow[];
}

/**
 * Locks the customer `which` selects (as `c`) and writes the given fields that differ from its
 * current ones with the next version; when there is none and `insert` is given, inserts a new one
 * instead (undefined when a concurrent insert of the same key won). Comparing against the locked
 * row, not the statement's snapshot, keeps concurrent writes' versions and changes apart.
 */
async function writeFields(
  sql: Queryable,
  which: Fragment,
  fields: CustomerFields,
  at: Date,
  events: RevisionEvents,
  insert?: (given: Fragment) => Fragment,
): Promise<CustomerWrite | undefined> {
  const options = fields.orderOptions === undefined ? null : sql.json(fields.orderOptions as JSONValue);
  const [row] = await sql<WrittenRecord[]>`
    with given as (
      select ${fields.nameId !== undefined}::boolean as name_given, ${fields.nameId ?? null}::text as name_id,
             ${fields.smsEnabled ?? null}::boolean as sms, ${options}::jsonb as options
    ),
    locked as (
      select c.customer_id, c.park_id, c.personal_phone_id, c.personal_name_id, c.sms_enabled, c.order_options, c.version, c.created_at, c.updated_at
      from customers c where ${which} for update
    ),
    next as (
      select c.customer_id, c.park_id, c.personal_phone_id, c.created_at, c.updated_at, c.version,
             case when g.name_given then g.name_id else c.personal_name_id end as personal_name_id,
             coalesce(g.sms, c.sms_enabled) as sms_enabled, coalesce(g.options, c.order_options) as order_options,
             to_jsonb(array_remove(array[
               case when g.name_given and g.name_id is distinct from c.personal_name_id then 'name' end,
               case when g.sms <> c.sms_enabled then 'sms_enabled' end,
               case when g.options <> c.order_options then 'order_options' end], null)) as changes
      from locked c cross join given g
    ),
    updated as (
      update customers c set personal_name_id = n.personal_name_id, sms_enabled = n.sms_enabled, order_options = n.order_options,
        version = n.version + 1, updated_at = ${at}
      from next n where c.customer_id = n.customer_id and n.changes <> '[]'::jsonb
      returning c.customer_id
    ),
    ${insert ? sql`inserted as (${insert(sql`given`)}),` : sql``}
    written as (
      select n.customer_id, n.park_id, n.personal_phone_id, n.personal_name_id, n.sms_enabled, n.order_options,
             case when u.customer_id is null then n.version else n.version + 1 end as version, n.created_at,
             case when u.customer_id is null then n.updated_at else ${at} end as updated_at,
             case when u.customer_id is null then null else 'updated' end as state, n.changes
      from next n left join updated u using (customer_id)
      ${insert ? sql`union all select i.*, 'created', '[]'::jsonb from inserted i` : sql``}
    ),
    revisions as (select customer_id, park_id, version as seq, state, changes, null::text as reason from written where state is not null),
    outbox as (${announce(sql, sql`revisions`, events, at)})
    select ${columns(sql)}, c.state, c.changes, (select coalesce(json_agg(o), '[]'::json) from outbox o) as messages
    from written c`;
  if (!row) return undefined;
  const { state, changes, messages, ...record } = row;
  const customer = toCustomer(record);
  const revision: CustomerRevision | undefined =
    state === null
      ? undefined
      : { customer_id: customer.customer_id, park_id: customer.park_id, seq: customer.version, state, ...(state === "updated" ? { changes } : {}) };
  return { customer, created: state === "created", revisions: revision ? [revision] : [], messages: messages.map(outboxMessageOf) };
}

/** Inserts the customer `key` names with the `given` fields, returning the columns `writeFields` reads. */
function insertCustomer(sql: Queryable, key: { parkId: string; phoneId: string; customerId: string }, given: Fragment, at: Date): Fragment {
  return sql`insert into customers (park_id, personal_phone_id, customer_id, personal_name_id, sms_enabled, order_options, version, created_at, updated_at)
    select ${key.parkId}, ${key.phoneId}, ${key.customerId}, g.name_id, coalesce(g.sms, false), coalesce(g.options, '{}'::jsonb), 1, ${at}, ${at}
    from ${given} g where not exists (select from locked)
    on conflict (park_id, personal_phone_id) do nothing
    returning customer_id, park_id, personal_phone_id, personal_name_id, sms_enabled, order_options, version, created_at, updated_at`;
}

/**
 * Inserts into the outbox the public event of each row of `revisions` (customer_id, park_id, seq,
 * state, changes, reason: `changes` is left out when empty), returning the messages.
 */
function announce(sql: Queryable, revisions: Fragment, events: RevisionEvents, at: Date): Fragment {
  return insertOutbox(
    sql,
    sql`jsonb_build_array(jsonb_build_object('message_id', e.event_id, 'kind', 'event', 'target', ${events.subjectPrefix}::text || e.customer_id::text,
      'payload', jsonb_strip_nulls(jsonb_build_object('type', 'customer', 'id', e.customer_id, 'park_id', e.park_id, 'seq', e.seq,
        'state', e.state, 'changes', nullif(e.changes, '[]'::jsonb), 'reason', e.reason, 'at', ${at.toISOString()}::text, 'event_id', e.event_id))))`,
    sql`(select r.*, gen_random_uuid() as event_id from ${revisions} r) e`,
  );
}

/** Writes the outbox messages of revisions made in the caller's transaction; returns them. */
export async function announceRevisions(tx: Tx, revisions: readonly CustomerRevision[], events: RevisionEvents, at: Date): Promise<OutboxMessage[]> {
  if (revisions.length === 0) return [];
  const rows = await tx<StoredOutboxRow[]>`
    with revisions as (
      select * from jsonb_to_recordset(${tx.json(revisions as unknown as JSONValue)}::jsonb)
        as r(customer_id uuid, park_id text, seq bigint, state text, changes jsonb, reason text)
    )
    ${announce(tx, tx`revisions`, events, at)}`;
  return rows.map(outboxMessageOf);
}

/** Deletes the customer with its locations and routes if it belongs to this park. */
export async function deleteCustomer(tx: Tx, parkId: string, customerId: string): Promise<CustomerRevision[] | undefined> {
  const [row] = await tx<{ version: string }[]>`delete from customers where park_id = ${parkId} and customer_id = ${customerId} returning version`;
  if (!row) return undefined;
  return [{ customer_id: customerId, park_id: parkId, seq: Number(row.version) + 1, state: "deleted", reason: "dispatcher" }];
}

export type VectorWrite<T> = { kind: "not_found" } | { kind: "limit"; limit: number } | { kind: "done"; item: T; revisions: CustomerRevision[] };

/**
 * Adds a favourite location as `locationId`, refusing past `limit` per customer. A retry with the
 * same id (a repeated request) finds the location it added and changes nothing.
 */
export async function addLocation(
  tx: Tx,
  parkId: string,
  customerId: string,
  locationId: string,
  location: { label?: string; address: string; lat: number; lon: number },
  limit: number,
  at: Date,
): Promise<VectorWrite<CustomerLocation>> {
  const current = await lockCustomer(tx, parkId, customerId);
  if (!current) return { kind: "not_found" };
  const [added] = await tx<CustomerLocation[]>`select location_id, label, address, lat, lon, created_at from customer_locations
    where location_id = ${locationId} and customer_id = ${customerId}`;
  if (added) return { kind: "done", item: added, revisions: [] };
  const [counted] = await tx<{ count: string }[]>`select count(*) from customer_locations where customer_id = ${customerId}`;
  if (Number(counted!.count) >= limit) return { kind: "limit", limit };
  const item: CustomerLocation = {
    location_id: locationId,
    label: location.label ?? null,
    address: location.address,
    lat: location.lat,
    lon: location.lon,
    created_at: at,
  };
  await tx`insert into customer_locations ${tx({ ...item, customer_id: customerId })}`;
  return { kind: "done", item, revisions: await touch(tx, current, "locations", at) };
}

/** Adds a regular route as `routeId`, refusing past `limit` per customer; a retry with the same id changes nothing. */
export async function addRoute(
  tx: Tx,
  parkId: string,
  customerId: string,
  routeId: string,
  route: { label?: string; points: readonly RoutePoint[]; schedule?: RouteSchedule },
  limit: number,
  at: Date,
): Promise<VectorWrite<CustomerRoute>> {
  const current = await lockCustomer(tx, parkId, customerId);
  if (!current) return { kind: "not_found" };
  const [added] = await tx<CustomerRoute[]>`select route_id, label, points, schedule, created_at from customer_routes
    where route_id = ${routeId} and customer_id = ${customerId}`;
  if (added) return { kind: "done", item: added, revisions: [] };
  const [counted] = await tx<{ count: string }[]>`select count(*) from customer_routes where customer_id = ${customerId}`;
  if (Number(counted!.count) >= limit) return { kind: "limit", limit };
  const item: CustomerRoute = {
    route_id: routeId,
    label: route.label ?? null,
    points: [...route.points],
    schedule: route.schedule ?? null,
    created_at: at,
  };
  await tx`insert into customer_routes (route_id, customer_id, label, points, schedule, created_at)
    values (${item.route_id}, ${customerId}, ${item.label}, ${tx.json(item.points as unknown as JSONValue)},
            ${item.schedule === null ? null : tx.json(item.schedule as unknown as JSONValue)}, ${at})`;
  return { kind: "done", item, revisions: await touch(tx, current, "routes", at) };
}

/** Removes one location or route of a customer of this park; undefined when either is not there. */
export async function removeVectorItem(
  tx: Tx,
  parkId: string,
  customerId: string,
  what: "locations" | "routes",
  itemId: string,
  at: Date,
): Promise<CustomerRevision[] | undefined> {
  const current = await lockCustomer(tx, parkId, customerId);
  if (!current) return undefined;
  const removed =
    what === "locations"
      ? await tx`delete from customer_locations where customer_id = ${customerId} and location_id = ${itemId}`
      : await tx`delete from customer_routes where customer_id = ${customerId} and route_id = ${itemId}`;
  if (removed.count === 0) return undefined;
  return touch(tx, current, what, at);
}

export interface TakeoutResult {
  phoneId: string;
  customersDeleted: number;
}

/** Erases every customer with these phone ids, in every park, and records the requests as done. */
export async function eraseByPhoneIds(tx: Tx, phoneIds: readonly string[], at: Date): Promise<{ results: TakeoutResult[]; revisions: CustomerRevision[] }> {
  const ids = [...new Set(phoneIds)];
  const deleted = await tx<{ customer_id: string; park_id: string; personal_phone_id: string; version: string }[]>`
    delete from customers where personal_phone_id in ${tx(ids)} returning customer_id, park_id, personal_phone_id, version`;
  const results = ids.map((phoneId) => ({ phoneId, customersDeleted: deleted.filter((d) => d.personal_phone_id === phoneId).length }));
  const rows = results.map((r) => ({ personal_phone_id: r.phoneId, requested_at: at, completed_at: at, customers_deleted: r.customersDeleted }));
  await tx`insert into customer_takeouts ${tx(rows)} on conflict (personal_phone_id) do update set
    requested_at = excluded.requested_at, completed_at = excluded.completed_at, customers_deleted = excluded.customers_deleted`;
  const revisions = deleted.map(
    (d): CustomerRevision => ({ customer_id: d.customer_id, park_id: d.park_id, seq: Number(d.version) + 1, state: "deleted", reason: "takeout" }),
  );
  return { results, revisions };
}

export interface TakeoutStatus {
  requested_at: Date | null;
  completed_at: Date | null;
  customers_deleted: number;
  /** Customers with this phone id exist now (in any park), e.g. created by an order after the erasure. */
  has_data: boolean;
}

export async function takeoutStatus(sql: Queryable, phoneId: string): Promise<TakeoutStatus> {
  const [row] = await sql<TakeoutStatus[]>`select t.requested_at, t.completed_at, coalesce(t.customers_deleted, 0) as customers_deleted,
      exists (select 1 from customers c where c.personal_phone_id = ${phoneId}) as has_data
    from (select 1) one left join customer_takeouts t on t.personal_phone_id = ${phoneId}`;
  return row!;
}

interface LockedRow {
  customer_id: string;
  park_id: string;
}

async function lockCustomer(tx: Tx, parkId: string, customerId: string): Promise<LockedRow | undefined> {
  const [row] = await tx<LockedRow[]>`select customer_id, park_id from customers
    where park_id = ${parkId} and customer_id = ${customerId} for update`;
  return row;
}

async function touch(tx: Tx, current: LockedRow, change: CustomerPart, at: Date): Promise<CustomerRevision[]> {
  const [row] = await tx<{ version: string }[]>`update customers set version = version + 1, updated_at = ${at}
    where customer_id = ${current.customer_id} returning version`;
  return [{ customer_id: current.customer_id, park_id: current.park_id, seq: Number(row!.version), state: "updated", changes: [change] }];
}
