// The envelope of every public event an actor publishes on `<cluster>.events.<type>.<id>`: the
// runtime writes these fields (ActorCell), a kind's `publicEvent` adds its own. Services build
// their event Schemas from `actorEventFields`.
import { Schema } from "effect";

/** An ISO 8601 UTC time as the runtime writes it: `2026-12-03T10:00:00.000Z`. */
export const IsoTime = Schema.String.check(Schema.isPattern(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, { message: "expected an ISO UTC time" }));

/** Fields every actor event carries; `seq` grows per actor, so subscribers drop repeats by it. */
export const actorEventFields = {
  id: Schema.String,
  seq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** The full state, e.g. `sending.waiting`; `state` is its top level. */
  state_path: Schema.String,
  at: IsoTime,
};

/**
 * An id as one NATS subject token: `%`, `.`, `*`, `>` and whitespace are percent-escaped, so two
 * different ids never share a subject (replacing them with `_` made `a.b` and `a_b` one).
 */
export const subjectToken = (id: string): string => id.replace(/[%.*>\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`) || "%";
