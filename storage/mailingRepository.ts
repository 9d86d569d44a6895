// Mailings' query tables (seed 000): templates written by the route, mailings projected from
// the mailing actors in the same statement as their snapshots (the service maps its actors to
// `MailingRow`s).
import type { JSONValue } from "postgres";
import type { Accepted } from "./actorStore.ts";
import type { Fragment, Queryable } from "./database.ts";

/** A template's audience: the park's drivers narrowed by these (all absent: every driver). */
export interface TemplateFilter {
  readonly work_rule?: string;
  readonly status?: "working" | "online";
  readonly include_contractor_ids?: readonly string[];
  readonly exclude_contractor_ids?: readonly string[];
}

export interface Template {
  id: string;
  park_id: string;
  message: string;
  filter: TemplateFilter;
  created_at: Date;
  created_by: string;
  /** When a mailing of it was last sent; null until one is. */
  last_sent_at: Date | null;
}

/** A row of `mailings`: one mailing actor's committed state. */
export interface MailingRow {
  id: string;
  park_id: string;
  template_id: string;
  /** The actor's top-level state: created, sending, sent, cancelled or failed. */
  status: string;
  recipients_count: number | null;
  created_at: Date;
  created_by: string;
  updated_at: Date | null;
  sent_at: Date | null;
}

/** A mailing as read back: its row with its template's message. */
export interface MailingRecord extends MailingRow {
  message: string;
}

/** Saves a new template; a repeat of the same id (a retried request) changes nothing. */
export async function insertTemplate(sql: Queryable, t: Template): Promise<void> {
  await sql`insert into mailing_templates
    (id, park_id, work_rule, status, excl_contractor_ids, incl_contractor_ids, message, created_at, created_by, last_sent_at)
    values (${t.id}, ${t.park_id}, ${t.filter.work_rule ?? null}, ${t.filter.status ?? null},
            ${t.filter.exclude_contractor_ids ? [...t.filter.exclude_contractor_ids] : null},
            ${t.filter.include_contractor_ids ? [...t.filter.include_contractor_ids] : null},
            ${t.message}, ${t.created_at}, ${t.created_by}, ${t.last_sent_at})
    on conflict (id) do nothing`;
}

interface TemplateRecord {
  id: string;
  park_id: string;
  work_rule: string | null;
  status: "working" | "online" | null;
  excl_contractor_ids: string[] | null;
  incl_contractor_ids: string[] | null;
  message: string;
  created_at: Date;
  created_by: string;
  last_sent_at: Date | null;
}

const toTemplate = (r: TemplateRecord): Template => ({
  id: r.id,
  park_id: r.park_id,
  message: r.message,
  filter: {
    ...(r.work_rule === null ? {} : { work_rule: r.work_rule }),
    ...(r.status === null ? {} : { status: r.status }),
    ...(r.incl_contractor_ids === null ? {} : { include_contractor_ids: r.incl_contractor_ids }),
    ...(r.excl_contractor_ids === null ? {} : { exclude_contractor_ids: r.excl_contractor_ids }),
  },
  created_at: r.created_at,
  created_by: String(r.created_by),
  last_sent_at: r.last_sent_at,
});

/** A template of this park; another park's template is as absent as a missing one. */
export async function findTemplate(sql: Queryable, parkId: string, id: string): Promise<Template | undefined> {
  const [row] = await sql<TemplateRecord[]>`select * from mailing_templates where park_id = ${parkId} and id = ${id}`;
  return row && toTemplate(row);
}

/** Keyset page position: the sort time and id of the last row returned. */
export interface PageCursor {
  at: Date;
  id: string;
  /** Templates only: whether `at` is a send time (sent templates list before those never sent). */
  sent?: boolean;
}

/** Where a template sorts in its park's list: sent ones by last send, then the others by creation. */
export const templateListing = (t: Pick<Template, "id" | "created_at" | "last_sent_at">): Required<PageCursor> => ({
  sent: t.last_sent_at !== null,
  at: t.last_sent_at ?? t.created_at,
  id: t.id,
});

export async function listTemplates(sql: Queryable, parkId: string, after: PageCursor | undefined, limit: number): Promise<Template[]> {
  const rows = await sql<TemplateRecord[]>`select * from mailing_templates where park_id = ${parkId}
    ${after ? sql`and (last_sent_at is not null, coalesce(last_sent_at, created_at), id) < (${after.sent ?? true}, ${after.at}, ${after.id})` : sql``}
    order by last_sent_at is not null desc, coalesce(last_sent_at, created_at) desc, id desc limit ${limit}`;
  return rows.map(toTemplate);
}

const mailingColumns = (sql: Queryable) => sql`m.id, m.park_id, m.template_id, m.status, m.recipients_count, m.created_at,
  m.created_by::text as created_by, m.updated_at, m.sent_at, t.message`;

export async function findMailing(sql: Queryable, parkId: string, id: string): Promise<MailingRecord | undefined> {
  const [row] = await sql<MailingRecord[]>`select ${mailingColumns(sql)} from mailings m join mailing_templates t on t.id = m.template_id
    where m.park_id = ${parkId} and m.id = ${id}`;
  return row;
}

/** Mailings per status across every park, and the recipients of those sent. */
export async function mailingTotals(sql: Queryable): Promise<{ byStatus: { status: string; count: number }[]; recipientsReached: number }> {
  const [byStatus, [reached]] = await Promise.all([
    sql<{ status: string; count: number }[]>`select status::text, count(*)::int as count from mailings group by status`,
    sql<{ n: string | null }[]>`select sum(recipients_count)::text as n from mailings where status = 'sent'`,
  ]);
  return { byStatus, recipientsReached: Number(reached?.n ?? 0) };
}

/** The park's mailings newest first (only those of `templateId` when given), after the cursor. */
export async function listMailings(
  sql: Queryable,
  parkId: string,
  after: PageCursor | undefined,
  limit: number,
  templateId?: string,
): Promise<MailingRecord[]> {
  return sql<MailingRecord[]>`select ${mailingColumns(sql)} from mailings m join mailing_templates t on t.id = m.template_id
    where m.park_id = ${parkId} ${templateId === undefined ? sql`` : sql`and m.template_id = ${templateId}`}
    ${after ? sql`and (m.created_at, m.id) < (${after.at}, ${after.id})` : sql``}
    order by m.created_at desc, m.id desc limit ${limit}`;
}

/**
 * Upserts `mailings` rows of the accepted commits (the sent ones move their template's
 * `last_sent_at`): statements of the group commit's.
 */
export function mailingStatements(sql: Queryable, rows: readonly MailingRow[], accepted: Accepted): Fragment[] {
  if (rows.length === 0) return [];
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const json = sql.json(
    rows.map((r) => ({ ...r, created_at: iso(r.created_at), updated_at: iso(r.updated_at), sent_at: iso(r.sent_at) })) as unknown as JSONValue,
  );
  const input = sql`jsonb_to_recordset(${json}::jsonb) as x(id text, park_id text, template_id text, status mailing_status,
    recipients_count integer, created_at timestamptz, created_by bigint, updated_at timestamptz, sent_at timestamptz)`;
  return [
    sql`insert into mailings (id, park_id, template_id, status, recipients_count, created_at, created_by, updated_at, sent_at)
    select x.id, x.park_id, x.template_id, x.status, x.recipients_count, x.created_at, x.created_by, x.updated_at, x.sent_at
    from ${input} where ${accepted(sql`x.id`)}
    on conflict (id) do update set status = excluded.status, updated_at = excluded.updated_at,
      recipients_count = excluded.recipients_count, sent_at = excluded.sent_at`,
    // One update per template: a statement must not update a row twice.
    sql`update mailing_templates t set last_sent_at = greatest(t.last_sent_at, s.sent_at)
    from (select x.template_id, max(x.sent_at) as sent_at from ${input}
      where x.sent_at is not null and ${accepted(sql`x.id`)} group by x.template_id) s
    where t.id = s.template_id`,
  ];
}
