// Mailings' query tables (seed 000): templates written by the route, mailings projected from
// the mailing actors in the same transaction as their snapshots.
import { topState, type ProjectedActor } from "../actors/ActorKind.ts";
import type { MailingContext, MailingFilter } from "../machines/mailing.machine.ts";
import type { Queryable, Tx } from "./database.ts";

export interface Template {
  id: string;
  park_id: string;
  message: string;
  filter: MailingFilter;
  created_at: Date;
  created_by: string;
  last_sent_at: Date;
}

export interface MailingRow {
  id: string;
  park_id: string;
  template_id: string;
  status: string;
  recipients_count: number | null;
  created_at: Date;
  created_by: string;
  updated_at: Date | null;
  sent_at: Date | null;
  message: string;
}

export async function insertTemplate(sql: Queryable, t: Template): Promise<void> {
  await sql`insert into mailing_templates
    (id, park_id, work_rule, status, excl_contractor_ids, incl_contractor_ids, message, created_at, created_by, last_sent_at)
    values (${t.id}, ${t.park_id}, ${t.filter.work_rule ?? null}, ${t.filter.status ?? null},
            ${t.filter.exclude_contractor_ids ? [...t.filter.exclude_contractor_ids] : null},
            ${t.filter.include_contractor_ids ? [...t.filter.include_contractor_ids] : null},
            ${t.message}, ${t.created_at}, ${t.created_by}, ${t.last_sent_at})`;
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
  last_sent_at: Date;
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
}

export async function listTemplates(sql: Queryable, parkId: string, after: PageCursor | undefined, limit: number): Promise<Template[]> {
  const rows = await sql<TemplateRecord[]>`select * from mailing_templates where park_id = ${parkId}
    ${after ? sql`and (last_sent_at, id) < (${after.at}, ${after.id})` : sql``}
    order by last_sent_at desc, id desc limit ${limit}`;
  return rows.map(toTemplate);
}

const mailingColumns = (sql: Queryable) => sql`m.id, m.park_id, m.template_id, m.status, m.recipients_count, m.created_at,
  m.created_by::text as created_by, m.updated_at, m.sent_at, t.message`;

export async function findMailing(sql: Queryable, parkId: string, id: string): Promise<MailingRow | undefined> {
  const [row] = await sql<MailingRow[]>`select ${mailingColumns(sql)} from mailings m join mailing_templates t on t.id = m.template_id
    where m.park_id = ${parkId} and m.id = ${id}`;
  return row;
}

export async function listMailings(sql: Queryable, parkId: string, after: PageCursor | undefined, limit: number): Promise<MailingRow[]> {
  return sql<MailingRow[]>`select ${mailingColumns(sql)} from mailings m join mailing_templates t on t.id = m.template_id
    where m.park_id = ${parkId} ${after ? sql`and (m.created_at, m.id) < (${after.at}, ${after.id})` : sql``}
    order by m.created_at desc, m.id desc limit ${limit}`;
}

/** The `mailings` rows as the actors' committed states; runs inside the group commit. */
export async function projectMailings(tx: Tx, actors: readonly ProjectedActor[]): Promise<void> {
  const rows = actors
    .filter((a) => a.value !== "absent")
    .map((a) => {
      const c = a.context as MailingContext;
      return {
        id: c.id,
        park_id: c.park_id,
        template_id: c.template_id,
        created_at: new Date(c.created_at),
        created_by: c.created_by,
        status: topState(a.value),
        updated_at: new Date(a.at),
        recipients_count: c.recipients_count,
        sent_at: c.sent_at === null ? null : new Date(c.sent_at),
      };
    });
  if (rows.length === 0) return;
  await tx`insert into mailings ${tx(rows)}
    on conflict (id) do update set status = excluded.status, updated_at = excluded.updated_at,
      recipients_count = excluded.recipients_count, sent_at = excluded.sent_at`;
  const sent = rows.filter((r) => r.sent_at !== null);
  for (const r of sent) {
    await tx`update mailing_templates set last_sent_at = greatest(last_sent_at, ${r.sent_at}) where id = ${r.template_id}`;
  }
}
