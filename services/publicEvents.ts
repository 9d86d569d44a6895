// Every public event the services publish (SPEC 5). The JSON Schemas in docs/events/ are
// generated from these (`npm run docs:events`) and tests check that published messages decode
// with them.
import { writeFileSync } from "node:fs";
import { Schema } from "effect";
import { cabinetPublicEvents } from "./cabinets/publicEvents.ts";
import { customerPublicEvents } from "./customers/publicEvents.ts";
import { driverStatusPublicEvents } from "./driverStatus/publicEvents.ts";
import { mailingPublicEvents } from "./mailings/publicEvents.ts";
import { mentorshipPublicEvents } from "./mentorship/publicEvents.ts";

export const publicEvents = {
  ...mailingPublicEvents,
  ...cabinetPublicEvents,
  ...customerPublicEvents,
  ...driverStatusPublicEvents,
  ...mentorshipPublicEvents,
} as const;

/** The JSON Schema document of one event, as written to docs/events/<type>.schema.json. */
export function jsonSchemaOf(type: keyof typeof publicEvents): unknown {
  return Schema.toJsonSchemaDocument(publicEvents[type].schema);
}

/** Regenerates docs/events/<type>.schema.json (`npm run docs:events`). */
export function writeEventSchemas(dir: string): void {
  for (const type of Object.keys(publicEvents) as (keyof typeof publicEvents)[]) {
    writeFileSync(`${dir}/${type}.schema.json`, `${JSON.stringify(jsonSchemaOf(type), null, 2)}\n`);
  }
}
