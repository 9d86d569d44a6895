// Stored results of mutating requests by Idempotency-Key, so a repeat returns the first result.
import type { JSONValue } from "postgres";
import type { Queryable } from "./database.ts";

export type IdempotencyClaim = { kind: "first" } | { kind: "replay"; status: number; body: unknown } | { kind: "in_flight" } | { kind: "different_request" };

/** Claims `(scope, key)` for this request, or reports what an earlier request with it did. */
export async function claimIdempotencyKey(sql: Queryable, scope: string, key: string, requestHash: string): Promise<IdempotencyClaim> {
  const inserted = await sql`insert into idempotency_keys (scope, key, request_hash) values (${scope}, ${key}, ${requestHash})
    on conflict do nothing returning key`;
  if (inserted.length) return { kind: "first" };
  const [row] = await sql<{ request_hash: string; status: number | null; body: unknown }[]>`
    select request_hash, status, body from idempotency_keys where scope = ${scope} and key = ${key}`;
  if (!row) return claimIdempotencyKey(sql, scope, key, requestHash); // released in between
  if (row.request_hash !== requestHash) return { kind: "different_request" };
  if (row.status === null) return { kind: "in_flight" };
  return { kind: "replay", status: row.status, body: row.body };
}

export async function completeIdempotencyKey(sql: Queryable, scope: string, key: string, status: number, body: unknown): Promise<void> {
  await sql`update idempotency_keys set status = ${status}, body = ${sql.json(body as JSONValue)} where scope = ${scope} and key = ${key}`;
}

/** Frees the key after a failure worth retrying (5xx), so the client's retry runs for real. */
export async function releaseIdempotencyKey(sql: Queryable, scope: string, key: string): Promise<void> {
  await sql`delete from idempotency_keys where scope = ${scope} and key = ${key} and status is null`;
}

export async function pruneIdempotencyKeys(sql: Queryable, olderThan: Date): Promise<number> {
  return (await sql`delete from idempotency_keys where created_at < ${olderThan}`).count;
}
