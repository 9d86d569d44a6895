// Schemas of the public events actors publish on `fleet.events.<type>.<id>` (SPEC 5). The JSON
// Schemas in docs/events/ are generated from these (`npm run docs:events`) and tests check that
// published messages decode with them.
import { Schema } from "effect";
import { CustomerEvent } from "../storage/customerRepository.ts";

const Iso = Schema.String.check(Schema.isPattern(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, { message: "expected an ISO UTC time" }));

/** Fields every actor event carries; `seq` grows per actor, so subscribers drop repeats by it. */
const Common = {
  id: Schema.String,
  seq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** The full state, e.g. `sending.waiting`; `state` is its top level. */
  state_path: Schema.String,
  at: Iso,
};

export const MailingEvent = Schema.Struct({
  type: Schema.Literal("mailing"),
  ...Common,
  state: Schema.Literals(["created", "sending", "sent", "cancelled", "failed"]),
  park_id: Schema.String,
  template_id: Schema.String,
  recipients_count: Schema.NullOr(Schema.Int),
});

export const publicEvents = {
  mailing: {
    subject: "fleet.events.mailing.<mailing_id>",
    summary: "A mailing changed state: created, sending (with its sub-state), sent, cancelled or failed.",
    schema: MailingEvent,
  },
  customer: {
    subject: "fleet.events.customer.<park_id>",
    summary: "A park's customer was created, updated or deleted; ids only, never personal data.",
    schema: CustomerEvent,
  },
} as const;

/** The JSON Schema document of one event, as written to docs/events/<type>.schema.json. */
export function jsonSchemaOf(type: keyof typeof publicEvents): unknown {
  return Schema.toJsonSchemaDocument(publicEvents[type].schema);
}

/** Regenerates docs/events/<type>.schema.json (`npm run docs:events`). */
export async function writeEventSchemas(dir: string): Promise<void> {
  const { writeFileSync } = await import("node:fs");
  for (const type of Object.keys(publicEvents) as (keyof typeof publicEvents)[]) {
    writeFileSync(`${dir}/${type}.schema.json`, JSON.stringify(jsonSchemaOf(type), null, 2) + "\n");
  }
}
