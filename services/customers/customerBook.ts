// The park customers' book: every write commits with the outbox rows of the public events it
// makes (one statement for the upsert and an edit, a transaction for the others), and the events go
// out after commit. Reads and writes are scoped by park.
import type { Logger } from "../../actors/logger.ts";
import type { OutboxMessage } from "../../storage/actorStore.ts";
import {
  addLocation,
  addRoute,
  announceRevisions,
  deleteCustomer,
  eraseByPhoneIds,
  findCustomerByPhone,
  getCustomer,
  removeVectorItem,
  takeoutStatus,
  updateCustomer,
  upsertCustomer,
  type Announced,
  type Customer,
  type CustomerFields,
  type CustomerLocation,
  type CustomerRevision,
  type CustomerRoute,
  type RevisionEvents,
  type RoutePoint,
  type RouteSchedule,
  type TakeoutResult,
  type TakeoutStatus,
} from "../../storage/customerRepository.ts";
import type { Sql, Tx } from "../../storage/database.ts";
import { forgetRequestsUnder } from "../../storage/idempotencyStore.ts";
import type { CustomerMetrics } from "./metrics.ts";
import { customerSubjectPrefix } from "./publicEvents.ts";

export interface CustomerLimits {
  locations: number;
  routes: number;
}

/** Per customer, when the environment does not say (CUSTOMER_MAX_LOCATIONS, CUSTOMER_MAX_ROUTES). */
export const defaultCustomerLimits: CustomerLimits = { locations: 50, routes: 20 };

export interface CustomerBookDeps {
  sql: Sql;
  logger: Logger;
  /** Hands committed outbox messages to the runtime's relay (`system.outbox.dispatch`). */
  dispatch: (messages: readonly OutboxMessage[]) => void;
  now: () => number;
  /** Subject prefix of public events, as the actor system's `eventPrefix`; default `fleet.events`. */
  eventPrefix?: string;
  /** Per customer; adding past them is refused. Default `defaultCustomerLimits`. */
  limits?: CustomerLimits;
  metrics?: CustomerMetrics;
}

/** Adding a location or a route: done, or why not. */
export type Added<T> = { kind: "not_found" } | { kind: "limit"; limit: number } | { kind: "done"; item: T };

export interface NewLocation {
  label?: string;
  address: string;
  lat: number;
  lon: number;
}

export interface NewRoute {
  label?: string;
  points: readonly RoutePoint[];
  schedule?: RouteSchedule;
}

/**
 * Park customers over Postgres, publishing `fleet.events.customer.<park_id>` at least once per
 * change: the event is in the outbox with the change, the runtime's relay retries it.
 * @example const book = new CustomerBook({ sql, logger, dispatch: (m) => system.outbox.dispatch(m), now: () => clock.now() })
 */
export class CustomerBook {
  readonly limits: CustomerLimits;
  readonly #deps: CustomerBookDeps;
  readonly #events: RevisionEvents;

  constructor(deps: CustomerBookDeps) {
    this.#deps = deps;
    this.limits = deps.limits ?? defaultCustomerLimits;
    this.#events = { subjectPrefix: customerSubjectPrefix(deps.eventPrefix ?? "fleet.events") };
  }

  /** The customer with this phone id in this park, with locations and routes. */
  findByPhone(parkId: string, phoneId: string): Promise<Customer | undefined> {
    return this.#read(findCustomerByPhone(this.#deps.sql, parkId, phoneId));
  }

  /** The customer by id, only if it belongs to this park. */
  get(parkId: string, customerId: string): Promise<Customer | undefined> {
    return this.#read(getCustomer(this.#deps.sql, parkId, customerId));
  }

  async #read(found: Promise<Customer | undefined>): Promise<Customer | undefined> {
    const customer = await found;
    this.#deps.metrics?.read(customer !== undefined);
    return customer;
  }

  /** Creates the customer of `(parkId, phoneId)` or updates the given fields of the existing one. */
  async upsert(parkId: string, phoneId: string, fields: CustomerFields): Promise<{ customer: Customer; created: boolean }> {
    const { customer, created, ...announced } = await upsertCustomer(this.#deps.sql, parkId, phoneId, fields, this.#now(), this.#events);
    this.#publish(announced);
    return { customer, created };
  }

  /** Edits the customer if it belongs to this park; undefined otherwise. */
  async update(parkId: string, customerId: string, fields: CustomerFields): Promise<Customer | undefined> {
    const updated = await updateCustomer(this.#deps.sql, parkId, customerId, fields, this.#now(), this.#events);
    if (updated) this.#publish(updated);
    return updated?.customer;
  }

  /** Deletes the customer with its locations and routes; false when this park has no such customer. */
  async delete(parkId: string, customerId: string): Promise<boolean> {
    const revisions = await this.#write(
      async (tx) => forgettingRequests(tx, await deleteCustomer(tx, parkId, customerId)),
      (r) => r ?? [],
    );
    return revisions !== undefined;
  }

  /** Adds a favourite location, refusing past the limit. */
  async addLocation(parkId: string, customerId: string, locationId: string, location: NewLocation): Promise<Added<CustomerLocation>> {
    return added(
      await this.#write(
        (tx, at) => addLocation(tx, parkId, customerId, locationId, location, this.limits.locations, at),
        (r) => (r.kind === "done" ? r.revisions : []),
      ),
    );
  }

  /** Adds a regular route, refusing past the limit. */
  async addRoute(parkId: string, customerId: string, routeId: string, route: NewRoute): Promise<Added<CustomerRoute>> {
    return added(
      await this.#write(
        (tx, at) => addRoute(tx, parkId, customerId, routeId, route, this.limits.routes, at),
        (r) => (r.kind === "done" ? r.revisions : []),
      ),
    );
  }

  /** Removes one location or route; false when the customer (of this park) or the item is not there. */
  async remove(parkId: string, customerId: string, what: "locations" | "routes", itemId: string): Promise<boolean> {
    const revisions = await this.#write(
      (tx, at) => removeVectorItem(tx, parkId, customerId, what, itemId, at),
      (r) => r ?? [],
    );
    return revisions !== undefined;
  }

  /** Erases every customer with these phone ids, in every park, and records the requests as done. */
  async erase(phoneIds: readonly string[]): Promise<{ results: TakeoutResult[]; customersDeleted: number }> {
    const { results, revisions } = await this.#write(
      async (tx, at) => {
        const erased = await eraseByPhoneIds(tx, phoneIds, at);
        await forgettingRequests(tx, erased.revisions);
        return erased;
      },
      (r) => r.revisions,
    );
    return { results, customersDeleted: revisions.length };
  }

  takeoutStatus(phoneId: string): Promise<TakeoutStatus> {
    return takeoutStatus(this.#deps.sql, phoneId);
  }

  /**
   * Runs `change` in a transaction together with the outbox rows of its revisions' events, then
   * publishes them.
   */
  async #write<T>(change: (tx: Tx, at: Date) => Promise<T>, revisionsOf: (result: T) => readonly CustomerRevision[]): Promise<T> {
    const at = this.#now();
    // Wrapped: postgres.js types what `begin` returns by whether it is an array.
    const { result, announced } = await this.#deps.sql.begin(async (tx) => {
      const r = await change(tx, at);
      const revisions = [...revisionsOf(r)];
      return { result: r, announced: { revisions, messages: await announceRevisions(tx, revisions, this.#events, at) } };
    });
    this.#publish(announced);
    return result;
  }

  #now(): Date {
    return new Date(this.#deps.now());
  }

  /**
   * Hands committed messages to the relay: off the response path; the relay publishes and
   * clears the rows, and its sweep retries what fails.
   */
  #publish({ revisions, messages }: Announced): void {
    for (const r of revisions) {
      this.#deps.logger.info(`customer ${r.state}`, { park_id: r.park_id, customer_id: r.customer_id, seq: r.seq });
      this.#deps.metrics?.changed(r.state);
    }
    this.#deps.dispatch(messages);
  }
}

function added<T>(result: { kind: "not_found" } | { kind: "limit"; limit: number } | { kind: "done"; item: T }): Added<T> {
  return result.kind === "done" ? { kind: "done", item: result.item } : result;
}

/**
 * A deleted customer's requests go with it: the idempotency store keeps fingerprints of their
 * bodies (addresses, coordinates) and the paths name the customer.
 */
async function forgettingRequests<T extends readonly CustomerRevision[] | undefined>(tx: Tx, revisions: T): Promise<T> {
  await forgetRequestsUnder(
    tx,
    (revisions ?? []).map((r) => `/customers/${r.customer_id}/`),
  );
  return revisions;
}
