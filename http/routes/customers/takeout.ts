// Takeout (role internal): erase every customer of a person's phone ids, in every park, and ask
// whether that was done.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import { route } from "../../route.ts";
import { prefix, type CustomerRouteDeps } from "./common.ts";

const PdId = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100));
const TakeoutDelete = Schema.Struct({
  phone_pd_ids: Schema.Array(PdId).check(Schema.isMinLength(1), Schema.isMaxLength(100)),
  request_id: Schema.optional(Schema.String.check(Schema.isMaxLength(128))),
});
const TakeoutStatusQuery = Schema.Struct({ phone_pd_id: PdId });

export function takeoutRoutes(app: Server, deps: CustomerRouteDeps): void {
  const { customers } = deps;

  route(app, deps, {
    method: "post",
    path: `${prefix}/takeout/v1/delete`,
    role: "internal",
    doc: { summary: "Takeout: delete every customer of the given phones in every park" },
    body: TakeoutDelete,
    idempotent: true,
    handle: async ({ body }) => {
      const { results, customersDeleted } = await customers.erase(body.phone_pd_ids);
      deps.logger.info("takeout erased", { request_id: body.request_id, phone_pd_ids: results.length, customers_deleted: customersDeleted });
      return { status: 200, body: { items: results.map((r) => ({ phone_pd_id: r.phoneId, status: "done", customers_deleted: r.customersDeleted })) } };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/takeout/v1/status`,
    role: "internal",
    doc: { summary: "Takeout: whether a phone's data was deleted" },
    query: TakeoutStatusQuery,
    handle: async ({ query }) => {
      const s = await customers.takeoutStatus(query.phone_pd_id);
      return {
        status: 200,
        body: {
          phone_pd_id: query.phone_pd_id,
          status: s.completed_at ? "done" : "not_requested",
          requested_at: s.requested_at?.toISOString() ?? null,
          completed_at: s.completed_at?.toISOString() ?? null,
          customers_deleted: s.customers_deleted,
          has_data: s.has_data,
        },
      };
    },
  });
}
