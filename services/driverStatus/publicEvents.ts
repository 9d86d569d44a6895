// The public event of driver KRT session actors (`fleet.events.krt-session.<driver_license_pd_id>`).
import { Schema } from "effect";
import { actorEventFields, IsoTime } from "../../actors/publicEvent.ts";

/**
 * A driver's KRT session actor changed state (bound, reporting, backing off, idle again); it
 * carries KRT's latest answer. `id` is the driver licence's personal id; the KRT id is never sent.
 */
export const KrtSessionPublicEvent = Schema.Struct({
  type: Schema.Literal("krt-session"),
  ...actorEventFields,
  state: Schema.Literals(["unbound", "bound"]),
  bound: Schema.Boolean,
  /** The connectivity KRT last confirmed; null before the first report. */
  connected: Schema.NullOr(Schema.Boolean),
  session_status: Schema.NullOr(Schema.Literals(["active", "paused", "ended", "none"])),
  ended_at: Schema.NullOr(IsoTime),
});

export const driverStatusPublicEvents = {
  "krt-session": {
    subject: "fleet.events.krt-session.<driver_license_pd_id>",
    summary: "A driver's KRT session actor changed state; carries KRT's latest session status and its end.",
    schema: KrtSessionPublicEvent,
  },
} as const;
