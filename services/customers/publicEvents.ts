// The public event of park customers (`fleet.events.customer.<park_id>`), documented in
// docs/events/customer.md.
import { CustomerEvent } from "../../storage/customerRepository.ts";

export const customerPublicEvents = {
  customer: {
    subject: "fleet.events.customer.<park_id>",
    summary: "A park's customer was created, updated or deleted; ids only, never personal data.",
    schema: CustomerEvent,
  },
} as const;
