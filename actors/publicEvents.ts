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

/** `state` is the cabinet's connectivity; counts are of its cells at that moment. */
export const CabinetEvent = Schema.Struct({
  type: Schema.Literal("cabinet"),
  ...Common,
  state: Schema.Literals(["online", "unresponsive"]),
  command: Schema.Literals(["idle", "unlocking"]),
  cells: Schema.Int,
  accumulators: Schema.Int,
  empty_cells: Schema.Int,
  booked_cells: Schema.Int,
  active_bookings: Schema.Int,
  last_report_at: Schema.NullOr(Iso),
});

/** `state` is where the accumulator is; the location fields that do not apply are null. */
export const AccumulatorEvent = Schema.Struct({
  type: Schema.Literal("accumulator"),
  ...Common,
  state: Schema.Literals(["in_cabinet", "with_contractor", "in_scooter", "unknown"]),
  cabinet_id: Schema.NullOr(Schema.String),
  cell: Schema.NullOr(Schema.Int),
  contractor_id: Schema.NullOr(Schema.String),
  scooter_id: Schema.NullOr(Schema.String),
  charge: Schema.NullOr(Schema.Number),
});

/**
 * A driver's KRT session actor changed state (bound, reporting, backing off, idle again); it
 * carries KRT's latest answer. `id` is the driver licence's personal id; the KRT id is never sent.
 */
export const KrtSessionEvent = Schema.Struct({
  type: Schema.Literal("krt-session"),
  ...Common,
  state: Schema.Literals(["unbound", "bound"]),
  bound: Schema.Boolean,
  /** The connectivity KRT last confirmed; null before the first report. */
  connected: Schema.NullOr(Schema.Boolean),
  session_status: Schema.NullOr(Schema.Literals(["active", "paused", "ended", "none"])),
  ended_at: Schema.NullOr(Iso),
});

export const publicEvents = {
  mailing: {
    subject: "fleet.events.mailing.<mailing_id>",
    summary: "A mailing changed state: created, sending (with its sub-state), sent, cancelled or failed.",
    schema: MailingEvent,
  },
  cabinet: {
    subject: "fleet.events.cabinet.<cabinet_id>",
    summary: "A cabinet was registered, went unresponsive or came back, or started or finished unlocking cells.",
    schema: CabinetEvent,
  },
  accumulator: {
    subject: "fleet.events.accumulator.<accumulator_id>",
    summary: "An accumulator changed location kind: into a cabinet, to a contractor, into a scooter, or unknown.",
    schema: AccumulatorEvent,
  },
  customer: {
    subject: "fleet.events.customer.<park_id>",
    summary: "A park's customer was created, updated or deleted; ids only, never personal data.",
    schema: CustomerEvent,
  },
  "krt-session": {
    subject: "fleet.events.krt-session.<driver_license_pd_id>",
    summary: "A driver's KRT session actor changed state; carries KRT's latest session status and its end.",
    schema: KrtSessionEvent,
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
