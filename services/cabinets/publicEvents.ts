// The public events of cabinet and accumulator actors (`fleet.events.cabinet.<id>`,
// `fleet.events.accumulator.<id>`).
import { Schema } from "effect";
import { actorEventFields, IsoTime } from "../../actors/publicEvent.ts";

/** `state` is the cabinet's connectivity, or `decommissioned` (its last event); counts are of its cells at that moment. */
export const CabinetPublicEvent = Schema.Struct({
  type: Schema.Literal("cabinet"),
  ...actorEventFields,
  state: Schema.Literals(["online", "unresponsive", "decommissioned"]),
  command: Schema.Literals(["idle", "unlocking"]),
  cells: Schema.Int,
  accumulators: Schema.Int,
  empty_cells: Schema.Int,
  booked_cells: Schema.Int,
  active_bookings: Schema.Int,
  last_report_at: Schema.NullOr(IsoTime),
});

/** `state` is where the accumulator is; the location fields that do not apply are null. */
export const AccumulatorPublicEvent = Schema.Struct({
  type: Schema.Literal("accumulator"),
  ...actorEventFields,
  state: Schema.Literals(["in_cabinet", "with_contractor", "in_scooter", "unknown", "written_off"]),
  cabinet_id: Schema.NullOr(Schema.String),
  cell: Schema.NullOr(Schema.Int),
  contractor_id: Schema.NullOr(Schema.String),
  scooter_id: Schema.NullOr(Schema.String),
  charge: Schema.NullOr(Schema.Finite),
});

export const cabinetPublicEvents = {
  cabinet: {
    subject: "fleet.events.cabinet.<cabinet_id>",
    summary: "A cabinet was registered, went unresponsive or came back, started or finished unlocking cells, or was decommissioned.",
    schema: CabinetPublicEvent,
  },
  accumulator: {
    subject: "fleet.events.accumulator.<accumulator_id>",
    summary: "An accumulator changed location kind: into a cabinet, to a contractor, into a scooter, or unknown; or was written off.",
    schema: AccumulatorPublicEvent,
  },
} as const;
