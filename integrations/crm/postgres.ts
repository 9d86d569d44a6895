// The CRM tables on Postgres (schema `crm` by default), standing in for the CRM's YT tables. The
// port creates its own schema on first use: the CRM is a partner system, not one of our migrations.
import { Result, Schema } from "effect";
import type { Sql } from "postgres";
import { PartnerError, PartnerProtocolError, PartnerRejectedError, PartnerUnavailableError } from "../errors.ts";
import { describeIssues, issueLines } from "../issues.ts";
import { DistributionRow, PromocodeRow, ResultRow, type CrmTables, type ResultDay } from "./tables.ts";

const system = "crm";

/**
 * Creates the schema and its tables if absent. Idempotent, and safe when several instances start
 * at once (`create table if not exists` alone can race on the catalogue).
 */
async function createCrmSchema(sql: Sql, schema: string): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${`${schema}.crm_tables`}))`;
    await tx`create schema if not exists ${tx(schema)}`;
    await tx`create table if not exists ${tx(schema)}.new_drivers (
      matching_id text primary key,
      park_id text not null,
      driver_id text not null,
      city text,
      rented_car boolean not null,
      phone_pd_id text not null,
      created_at timestamptz not null)`;
    await tx`create table if not exists ${tx(schema)}.distribution (
      newbie_matching_id text primary key,
      mentor_park_id text not null,
      mentor_driver_id text not null,
      connected_dttm timestamptz not null,
      original_connected_dttm timestamptz)`;
    await tx`create table if not exists ${tx(schema)}.results_to_send (
      matching_id text not null,
      day smallint not null check (day in (7, 14)),
      result jsonb not null,
      primary key (matching_id, day))`;
    await tx`create table if not exists ${tx(schema)}.finished_promocodes (
      matching_id text primary key,
      promocode text not null,
      issued_at timestamptz not null)`;
  });
}

/** `createCrmSchema` on the first call, again only after a failed one. */
export function crmSchemaOnce(sql: Sql, schema: string): () => Promise<void> {
  let created: Promise<void> | undefined;
  return () => {
    created ??= createCrmSchema(sql, schema).catch((error: unknown) => {
      created = undefined;
      throw error;
    });
    return created;
  };
}

/**
 * The CRM tables port over `sql`; creates `schema` on first use.
 * @example const crm = postgresCrm(db.sql); await crm.writeNewDriver({ matching_id, park_id, driver_id, city: "moscow", rented_car: false, phone_pd_id, created_at: new Date() })
 */
export function postgresCrm(sql: Sql, schema = "crm"): CrmTables {
  const ready = crmSchemaOnce(sql, schema);
  const call = async <T>(what: string, query: () => Promise<T>): Promise<T> => {
    try {
      await ready();
      return await query();
    } catch (error) {
      throw crmError(what, error);
    }
  };
  const t = sql(schema);

  return {
    writeNewDriver: (row) =>
      call("writing new_drivers", async () => {
        await sql`insert into ${t}.new_drivers ${sql(row, "matching_id", "park_id", "driver_id", "city", "rented_car", "phone_pd_id", "created_at")}
          on conflict (matching_id) do nothing`;
      }),
    readDistribution: () =>
      call("reading distribution", async () =>
        decodeRows(
          DistributionRow,
          await sql`select newbie_matching_id, mentor_park_id, mentor_driver_id, connected_dttm, original_connected_dttm
            from ${t}.distribution
            where original_connected_dttm is null or connected_dttm > original_connected_dttm
            order by connected_dttm, newbie_matching_id`,
        ),
      ),
    markDistributionImported: (newbieMatchingId, connectedDttm) =>
      call("marking distribution imported", async () => {
        // The row's own time, not the caller's copy: a Date holds milliseconds, the column
        // microseconds, and a copy cut short would leave the row "new" for ever. A pairing made
        // after the one the caller saw stays new.
        await sql`update ${t}.distribution set original_connected_dttm = connected_dttm
          where newbie_matching_id = ${newbieMatchingId}
            and connected_dttm < ${connectedDttm}::timestamptz + interval '1 millisecond'
            and (original_connected_dttm is null or original_connected_dttm < connected_dttm)`;
      }),
    readResults: (matchingIds, day: ResultDay) =>
      matchingIds.length === 0
        ? Promise.resolve([])
        : call("reading results_to_send", async () =>
            decodeRows(
              ResultRow,
              await sql`select matching_id, day, result from ${t}.results_to_send
                where day = ${day} and matching_id = any(${sql.array(matchingIds as string[])}::text[])
                order by matching_id`,
            ),
          ),
    readPromocodes: (matchingIds) =>
      matchingIds.length === 0
        ? Promise.resolve([])
        : call("reading finished_promocodes", async () =>
            decodeRows(
              PromocodeRow,
              await sql`select matching_id, promocode, issued_at from ${t}.finished_promocodes
                where matching_id = any(${sql.array(matchingIds as string[])}::text[])
                order by matching_id`,
            ),
          ),
  };
}

function decodeRows<S extends Schema.Decoder<unknown>>(schema: S, rows: readonly unknown[]): S["Type"][] {
  const decoded = Schema.decodeUnknownResult(Schema.Array(schema))(rows);
  if (Result.isFailure(decoded)) throw new PartnerProtocolError(system, describeIssues(issueLines(decoded.failure)), { cause: decoded.failure });
  return [...decoded.success];
}

/** SQLSTATE classes where the same statement fails the same way again: bad data (22), constraints (23), access or syntax (42). */
const refusedClasses = new Set(["22", "23", "42"]);
/** ...but a table or schema missing for a while (the CRM replacing or moving it) is an outage, worth retrying. */
const missingTable = new Set(["42P01", "3F000"]);

/**
 * Postgres' failures as partner errors: a refusal of the statement itself is `crm_rejected` (422,
 * body `{sqlstate}`), anything else (connection, server) `crm_unavailable`.
 */
function crmError(what: string, error: unknown): PartnerError {
  if (error instanceof PartnerError) return error;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && refusedClasses.has(code.slice(0, 2)) && !missingTable.has(code)) {
    return new PartnerRejectedError(system, 422, { sqlstate: code }, { cause: error });
  }
  return new PartnerUnavailableError(system, `crm failed ${what}`, { cause: error });
}
