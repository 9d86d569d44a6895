// Mailings (SPEC 3.4), role fleet, prefix /fleet/communications/v1.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { EventRejectedError } from "../../actors/errors.ts";
import { type CancelMailingEvent, CreateMailingEvent } from "../../machines/mailing.machine.ts";
import {
  findMailing,
  findTemplate,
  insertTemplate,
  listMailings,
  listTemplates,
  type MailingRecord,
  type Template,
  templateListing,
} from "../../storage/mailingRepository.ts";
import type { Sql } from "../../storage/database.ts";
import { badRequest, conflict, notFound } from "../errors.ts";
import { decodeCursor, page, PageQuery } from "../pagination.ts";
import { route, type Identity, type RouteDeps } from "../route.ts";

const prefix = "/fleet/communications/v1";
/**
 * Either a saved template to reuse, or a new message with its filters (saved as a template): the
 * fields of the machine's `create` event, the filter's at the top level.
 */
const CreateMailing = Schema.Struct({
  template_id: Schema.optional(CreateMailingEvent.fields.template_id),
  message: Schema.optional(CreateMailingEvent.fields.message),
  ...CreateMailingEvent.fields.filter.fields,
});
const MailingId = Schema.Struct({ id: Schema.NonEmptyString });

type Fleet = Extract<Identity, { role: "fleet" }>;

const mailingView = (m: MailingRecord) => ({
  mailing_id: m.id,
  template_id: m.template_id,
  status: m.status,
  message: m.message,
  recipients_count: m.recipients_count,
  created_at: m.created_at.toISOString(),
  created_by: m.created_by,
  updated_at: m.updated_at?.toISOString() ?? null,
  sent_at: m.sent_at?.toISOString() ?? null,
});

const templateView = (t: Template) => ({
  template_id: t.id,
  message: t.message,
  ...t.filter,
  created_at: t.created_at.toISOString(),
  created_by: t.created_by,
  last_sent_at: t.last_sent_at?.toISOString() ?? null,
});

export function mailingRoutes(app: Server, deps: RouteDeps & { system: ActorSystem; sql: Sql; now: () => number }): void {
  route(app, deps, {
    method: "post",
    path: `${prefix}/mailings`,
    role: "fleet",
    doc: { summary: "Create a mailing from a saved template or a new message with filters", success: [202], errors: [404, 504] },
    body: CreateMailing,
    idempotent: true,
    handle: async ({ body, identity, newId }) => {
      const { park_id, uid } = identity as Fleet;
      const template = await resolveTemplate(deps.sql, body, park_id, uid, new Date(deps.now()), newId("template"));
      const create: CreateMailingEvent = {
        type: "create",
        park_id,
        template_id: template.id,
        created_by: uid,
        message: template.message,
        filter: template.filter,
      };
      const id = newId();
      try {
        return { status: 202, body: await deps.system.ask(`mailing/${id}`, create) };
      } catch (error) {
        // A retry under the same key after the first attempt's mailing already finished (a final
        // state takes no events): the first answer again.
        const first = error instanceof EventRejectedError ? await findMailing(deps.sql, park_id, id) : undefined;
        if (!first) throw error;
        return { status: 202, body: { mailing_id: first.id, template_id: first.template_id, status: "created" } };
      }
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/mailings`,
    role: "fleet",
    doc: { summary: "The park's mailings, newest first (paged)" },
    query: PageQuery,
    handle: async ({ query, identity }) => {
      const limit = query.limit ?? 50;
      const rows = await listMailings(deps.sql, (identity as Fleet).park_id, decodeCursor(query.cursor), limit + 1);
      const { items, ...more } = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { status: 200, body: { items: items.map(mailingView), ...more } };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/templates/:id/mailings`,
    role: "fleet",
    doc: { summary: "The mailings sent from one template (paged)", errors: [404] },
    params: MailingId,
    query: PageQuery,
    handle: async ({ params, query, identity }) => {
      const { park_id } = identity as Fleet;
      if (!(await findTemplate(deps.sql, park_id, params.id))) throw notFound("template");
      const limit = query.limit ?? 50;
      const rows = await listMailings(deps.sql, park_id, decodeCursor(query.cursor), limit + 1, params.id);
      const { items, ...more } = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { status: 200, body: { items: items.map(mailingView), ...more } };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/mailings/:id`,
    role: "fleet",
    doc: { summary: "One mailing", errors: [404] },
    params: MailingId,
    handle: async ({ params, identity }) => {
      const row = await findMailing(deps.sql, (identity as Fleet).park_id, params.id);
      if (!row) throw notFound("mailing");
      return { status: 200, body: mailingView(row) };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/mailings/:id/cancel`,
    role: "fleet",
    doc: { summary: "Cancel a mailing not yet sent", errors: [404, 504] },
    params: MailingId,
    idempotent: true,
    handle: async ({ params, identity }) => {
      const { park_id } = identity as Fleet;
      if (!(await findMailing(deps.sql, park_id, params.id))) throw notFound("mailing");
      try {
        const cancel: CancelMailingEvent = { type: "cancel", park_id };
        await deps.system.ask(`mailing/${params.id}`, cancel);
      } catch (error) {
        if (error instanceof EventRejectedError) {
          const state = typeof error.state === "string" ? error.state : Object.keys(error.state as object)[0];
          throw conflict("mailing_not_cancellable", `the mailing is already ${state}`, { status: state });
        }
        throw error;
      }
      const row = await findMailing(deps.sql, park_id, params.id);
      return { status: 200, body: mailingView(row!) };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/templates`,
    role: "fleet",
    doc: { summary: "The park's templates (paged)" },
    query: PageQuery,
    handle: async ({ query, identity }) => {
      const limit = query.limit ?? 50;
      const rows = await listTemplates(deps.sql, (identity as Fleet).park_id, decodeCursor(query.cursor), limit + 1);
      const { items, ...more } = page(rows, limit, templateListing);
      return { status: 200, body: { items: items.map(templateView), ...more } };
    },
  });
}

/** `newTemplateId` names the template a message creates (from the Idempotency-Key: a retry saves it once). */
async function resolveTemplate(sql: Sql, body: typeof CreateMailing.Type, parkId: string, uid: string, now: Date, newTemplateId: string): Promise<Template> {
  const { template_id, message, ...filter } = body;
  if (template_id !== undefined) {
    if (message !== undefined || Object.keys(filter).length) {
      throw badRequest("invalid_request", "invalid body: body.template_id", {
        fields: [{ path: "body.template_id", message: "a template is reused as it is: send either template_id or message with filters" }],
      });
    }
    const template = await findTemplate(sql, parkId, template_id);
    if (!template) throw notFound("template");
    return template;
  }
  if (message === undefined) {
    throw badRequest("invalid_request", "invalid body: body.message", { fields: [{ path: "body.message", message: "required when template_id is absent" }] });
  }
  const template: Template = { id: newTemplateId, park_id: parkId, message, filter, created_at: now, created_by: uid, last_sent_at: null };
  await insertTemplate(sql, template);
  return template;
}
