// Turns a Schema decoding failure into `{path, message}` lines, for 400 answers and protocol errors.
import { SchemaIssue, type Schema } from "effect";

export interface IssueLine {
  /** Dotted path into the value, e.g. `recipients.3`; empty for the value itself. */
  readonly path: string;
  readonly message: string;
}

const standard = SchemaIssue.makeFormatterStandardSchemaV1();

export function issueLines(error: Schema.SchemaError): IssueLine[] {
  return (standard(error.issue).issues ?? []).map((i) => ({
    path: (i.path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join("."),
    message: i.message,
  }));
}

export const describeIssues = (lines: readonly IssueLine[]): string => lines.map((l) => `${l.path || "(body)"}: ${l.message}`).join("; ");
