// The public event of matching actors (`fleet.events.matching.<matching_id>`): one per status change.
import { Schema } from "effect";
import { actorEventFields } from "../../actors/publicEvent.ts";
import { MATCHING_STATUSES } from "../../machines/matching.machine.ts";

const Status = Schema.Literals(MATCHING_STATUSES);

/** A matching changed status; it names both drivers by park profile (no names, no phones). */
export const MatchingPublicEvent = Schema.Struct({
  type: Schema.Literal("matching"),
  ...actorEventFields,
  state: Status,
  status: Status,
  newbie_park_id: Schema.String,
  newbie_driver_id: Schema.String,
  mentor_park_id: Schema.NullOr(Schema.String),
  mentor_driver_id: Schema.NullOr(Schema.String),
});

export const mentorshipPublicEvents = {
  matching: {
    subject: "fleet.events.matching.<matching_id>",
    summary: "A mentorship matching changed status: created, requested, matched, initialized, in_progress, finished, succeed or failed.",
    schema: MatchingPublicEvent,
  },
} as const;
