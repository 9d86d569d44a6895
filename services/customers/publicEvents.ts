// The public event of park customers (`fleet.events.customer.<customer_id>`), documented in
// docs/events/customer.md.
import { Schema } from "effect";
import { customerParts } from "../../storage/customerRepository.ts";

/** What changed in a customer, as named in the `changes` of an `updated` event. */
export const CustomerChange = Schema.Literals(customerParts);
export type CustomerChange = typeof CustomerChange.Type;

/**
 * The public event payload on `fleet.events.customer.<customer_id>`: ids only, never personal data
 * or personal ids. Documented in docs/events/customer.md and customer.schema.json (generated from this).
 */
export const CustomerPublicEvent = Schema.Struct({
  type: Schema.Literal("customer"),
  /** customer_id, as in the routes. */
  id: Schema.String.check(Schema.isUUID()),
  park_id: Schema.String,
  /** 1 on creation, +1 per change, last + 1 on deletion: order one customer's events by it. */
  seq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  state: Schema.Literals(["created", "updated", "deleted"]),
  at: Schema.String.check(Schema.isPattern(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, { message: "expected an ISO UTC time" })),
  /** Unique per event and the same on a redelivery: drop repeats by it. */
  event_id: Schema.String.check(Schema.isUUID()),
  /** `updated` only. */
  changes: Schema.optionalKey(Schema.Array(CustomerChange)),
  /** `deleted` only: by the dispatcher's button or by a takeout erase request. */
  reason: Schema.optionalKey(Schema.Literals(["dispatcher", "takeout"])),
});
export type CustomerPublicEvent = typeof CustomerPublicEvent.Type;

/**
 * `<prefix>.customer.`: a customer's events go to this followed by its id (SPEC 5:
 * `fleet.events.<type>.<id>`); the id is a UUID, one subject token as it is (`subjectToken` leaves it alone).
 */
export const customerSubjectPrefix = (eventPrefix: string) => `${eventPrefix}.customer.`;

export const customerPublicEvents = {
  customer: {
    subject: "fleet.events.customer.<customer_id>",
    summary: "A park's customer was created, updated or deleted; ids only, never personal data.",
    schema: CustomerPublicEvent,
  },
} as const;
