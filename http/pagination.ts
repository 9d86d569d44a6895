// Opaque keyset cursors for history routes: newest first, stable under concurrent inserts.
import { Schema } from "effect";
import type { PageCursor } from "../storage/mailingRepository.ts";
import { badRequest } from "./errors.ts";

export const PageQuery = Schema.Struct({
  cursor: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 200 }))),
});

export function decodeCursor(cursor: string | undefined): PageCursor | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  try {
    const { at, id, sent } = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { at: string; id: string; sent?: boolean };
    const date = new Date(at);
    if (typeof id !== "string" || Number.isNaN(date.getTime()) || (sent !== undefined && typeof sent !== "boolean")) throw new Error("bad cursor");
    return { at: date, id, ...(sent === undefined ? {} : { sent }) };
  } catch {
    throw badRequest("invalid_request", "invalid query: query.cursor", { fields: [{ path: "query.cursor", message: "not a cursor returned by this route" }] });
  }
}

/**
 * A page of `limit` from `rows` read with `limit + 1` (the extra row only says there is more), and
 * the cursor of the next page when there is one: a last page that is exactly full has none.
 */
export function page<T>(rows: readonly T[], limit: number, key: (row: T) => PageCursor) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const cursor = rows.length > limit && last ? Buffer.from(JSON.stringify({ ...key(last), at: key(last).at.toISOString() })).toString("base64url") : null;
  return { items, cursor, has_more: cursor !== null };
}
