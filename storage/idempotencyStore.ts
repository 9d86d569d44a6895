// Stored results of mutating requests by Idempotency-Key, so a repeat returns the first result.
// A key is never deleted once its handler may have acted: an attempt claims it for a lease, and a
// retry after the lease (the attempt crashed or failed) runs the handler again, which reaches the
// same objects because their ids derive from the key.
import type { JSONValue } from "postgres";
import type { Queryable } from "./database.ts";

export type IdempotencyClaim = { kind: "first" } | { kind: "replay"; status: number; body: unknown } | { kind: "in_flight" } | { kind: "different_request" };

/** Claims `(scope, key)` for this attempt for `leaseMs`, or reports what an earlier attempt with it did. */
export async function claimIdempotencyKey(sql: Queryable, scope: string, key: string, requestHash: string, leaseMs: number): Promise<IdempotencyClaim> {
  const [row] = await sql<{ claimed: boolean; request_hash: string; status: number | null; body: unknown }[]>`
    with inserted as (
      insert into idempotency_keys (scope, key, request_hash, claimed_until)
      values (${scope}, ${key}, ${requestHash}, now() + ${leaseMs} * interval '1 millisecond')
      on conflict do nothing
      returning true as claimed, request_hash, status, body
    ),
    taken_over as (
      update idempotency_keys set claimed_until = now() + ${leaseMs} * interval '1 millisecond'
      where scope = ${scope} and key = ${key} and request_hash = ${requestHash} and status is null and claimed_until <= now()
        and not exists (select 1 from inserted)
      returning true as claimed, request_hash, status, body
    )
    select * from inserted
    union all select * from taken_over
    union all select false, request_hash, status, body from idempotency_keys
      where scope = ${scope} and key = ${key} and not exists (select 1 from inserted) and not exists (select 1 from taken_over)`;
  if (!row) return claimIdempotencyKey(sql, scope, key, requestHash, leaseMs); // pruned in between
  if (row.claimed) return { kind: "first" };
  if (row.request_hash !== requestHash) return { kind: "different_request" };
  if (row.status === null) return { kind: "in_flight" };
  return { kind: "replay", status: row.status, body: row.body };
}

export async function completeIdempotencyKey(sql: Queryable, scope: string, key: string, status: number, body: unknown): Promise<void> {
  await sql`update idempotency_keys set status = ${status}, body = ${sql.json(body as JSONValue)} where scope = ${scope} and key = ${key}`;
}

/**
 * Ends this attempt's claim without a result (it failed in a way worth retrying, 5xx), so the
 * client's retry runs the handler again at once instead of waiting for the lease.
 */
export async function expireIdempotencyClaim(sql: Queryable, scope: string, key: string): Promise<void> {
  await sql`update idempotency_keys set claimed_until = now() where scope = ${scope} and key = ${key} and status is null`;
}

/**
 * Forgets every request whose path holds one of `pathParts` (a scope ends with its request's
 * path): when what they created is deleted, not even a fingerprint of their bodies stays.
 */
export async function forgetRequestsUnder(sql: Queryable, pathParts: readonly string[]): Promise<void> {
  if (pathParts.length === 0) return;
  await sql`delete from idempotency_keys where scope like any(${pathParts.map((p) => `%${p.replace(/[\\%_]/g, "\\$&")}%`)})`;
}

export async function pruneIdempotencyKeys(sql: Queryable, olderThan: Date): Promise<number> {
  return (await sql`delete from idempotency_keys where created_at < ${olderThan}`).count;
}
