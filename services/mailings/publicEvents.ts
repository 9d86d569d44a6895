// The public event of mailing actors (`fleet.events.mailing.<mailing_id>`).
import { Schema } from "effect";
import { actorEventFields } from "../../actors/publicEvent.ts";

export const MailingPublicEvent = Schema.Struct({
  type: Schema.Literal("mailing"),
  ...actorEventFields,
  state: Schema.Literals(["created", "sending", "sent", "cancelled", "failed"]),
  park_id: Schema.String,
  template_id: Schema.String,
  recipients_count: Schema.NullOr(Schema.Int),
});

export const mailingPublicEvents = {
  mailing: {
    subject: "fleet.events.mailing.<mailing_id>",
    summary: "A mailing changed state: created, sending (with its sub-state), sent, cancelled or failed.",
    schema: MailingPublicEvent,
  },
} as const;
