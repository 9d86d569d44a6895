// What a sleeping actor keeps: its persisted snapshot and remembered ids as JSON (what activation
// reads from the database, so waking from it restores what a reload would), in a string, so that
// the heap counts it (a Buffer's bytes live outside it).
//
// Small forms stay plain JSON: deflate costs a fixed ~20-70 µs to set up per call, more than the
// whole sleep of a small actor, and halves only a few hundred bytes. Large ones (a cabinet's cells,
// a matching's history) are deflated, a small window for a small input, and kept as a one-byte string.
import { deflateRawSync, inflateRawSync } from "node:zlib";

export interface Awake {
  snapshot: unknown;
  processed: string[];
}

/** JSON longer than this is deflated; a session's or an accumulator's form stays under it. */
export const DEFLATE_FROM_CHARS = 2_048;
/** Marks a deflated form: plain JSON of an object starts with `{`. */
const DEFLATED = "z";
const zlibOptions = { level: 1, windowBits: 12, memLevel: 4 };

export function toDormant(snapshot: unknown, processed: readonly string[]): string {
  const json = JSON.stringify({ snapshot, processed });
  if (json.length <= DEFLATE_FROM_CHARS) return json;
  return DEFLATED + deflateRawSync(json, zlibOptions).toString("latin1");
}

export function fromDormant(dormant: string): Awake {
  if (!dormant.startsWith(DEFLATED)) return JSON.parse(dormant);
  return JSON.parse(inflateRawSync(Buffer.from(dormant.slice(1), "latin1"), { windowBits: zlibOptions.windowBits }).toString());
}
