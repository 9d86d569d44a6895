// The customer itself: find by phone, the upsert after an order, read, edit, delete.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import { normalizePhone } from "../../../integrations/personal/index.ts";
import { notFound } from "../../errors.ts";
import { route } from "../../route.ts";
import { CustomerPath, customerView, parkOf, prefix, Text, type CustomerRouteDeps } from "./common.ts";

const Phone = Schema.String.check(
  Schema.isMaxLength(32),
  Schema.makeFilter((s: string) => normalizePhone(s) !== undefined || "expected a phone number: +79161234567, 8 (916) 123-45-67 or another E.164 number"),
);
const Name = Text(200);
const Code = Schema.String.check(Schema.isPattern(/^[a-z0-9_]{1,64}$/, { message: "expected 1..64 of a-z, 0-9, _" }));

export const OrderOptions = Schema.Struct({
  tariff_class: Schema.optional(Code),
  payment_method: Schema.optional(Schema.Literals(["cash", "card", "corp"])),
  requirements: Schema.optional(Schema.Array(Code).check(Schema.isMaxLength(20), Schema.isUnique())),
});

const Find = Schema.Struct({ phone: Phone });
const Upsert = Schema.Struct({
  phone: Phone,
  name: Schema.optional(Name),
  sms_enabled: Schema.optional(Schema.Boolean),
  order_options: Schema.optional(OrderOptions),
});
const Patch = Schema.Struct({
  name: Schema.optional(Schema.NullOr(Name)),
  sms_enabled: Schema.optional(Schema.Boolean),
  order_options: Schema.optional(OrderOptions),
});

export function customerResourceRoutes(app: Server, deps: CustomerRouteDeps): void {
  const { personal, customers } = deps;

  route(app, deps, {
    method: "post",
    path: `${prefix}/customers/find`,
    role: "fleet",
    doc: { summary: "Find a customer by phone", errors: [404] },
    body: Find,
    handle: async ({ body, identity }) => {
      const phone = normalizePhone(body.phone)!;
      // `find`, not `store`: looking a number up must not register it in personal.
      const phoneId = await personal.find("phones", phone);
      const customer = phoneId === undefined ? undefined : await customers.findByPhone(parkOf(identity), phoneId);
      if (!customer) throw notFound("customer");
      return { status: 200, body: await customerView(personal, customer, { phone }) };
    },
  });

  route(app, deps, {
    method: "put",
    path: `${prefix}/customers`,
    role: "fleet",
    doc: { summary: "Create or update the customer of a phone", success: [200, 201] },
    body: Upsert,
    handle: async ({ body, identity }) => {
      const phone = normalizePhone(body.phone)!;
      const name = body.name?.trim();
      // Both exchanges before the transaction: personal down leaves nothing written.
      const [phoneId, nameId] = await Promise.all([personal.store("phones", phone), name === undefined ? undefined : personal.store("names", name)]);
      const fields = { ...(nameId === undefined ? {} : { nameId }), smsEnabled: body.sms_enabled, orderOptions: body.order_options };
      const written = await customers.upsert(parkOf(identity), phoneId, fields);
      return { status: written.created ? 201 : 200, body: await customerView(personal, written.customer, { phone, ...(name === undefined ? {} : { name }) }) };
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/customers/:customer_id`,
    role: "fleet",
    doc: { summary: "One customer", errors: [404] },
    params: CustomerPath,
    handle: async ({ params, identity }) => {
      const customer = await customers.get(parkOf(identity), params.customer_id);
      if (!customer) throw notFound("customer");
      return { status: 200, body: await customerView(personal, customer) };
    },
  });

  route(app, deps, {
    method: "patch",
    path: `${prefix}/customers/:customer_id`,
    role: "fleet",
    doc: { summary: "Change a customer's name, SMS consent or order options", errors: [404] },
    params: CustomerPath,
    body: Patch,
    handle: async ({ params, body, identity }) => {
      const park = parkOf(identity);
      // Another park's id must not even reach personal with a name.
      if (!(await customers.get(park, params.customer_id))) throw notFound("customer");
      const name = typeof body.name === "string" ? body.name.trim() : body.name;
      const nameId = typeof name === "string" ? await personal.store("names", name) : name;
      const fields = { ...(nameId === undefined ? {} : { nameId }), smsEnabled: body.sms_enabled, orderOptions: body.order_options };
      const updated = await customers.update(park, params.customer_id, fields);
      if (!updated) throw notFound("customer");
      return { status: 200, body: await customerView(personal, updated, typeof name === "string" ? { name } : {}) };
    },
  });

  route(app, deps, {
    method: "delete",
    path: `${prefix}/customers/:customer_id`,
    role: "fleet",
    doc: { summary: "Delete a customer", success: [204], errors: [404] },
    params: CustomerPath,
    handle: async ({ params, identity }) => {
      if (!(await customers.delete(parkOf(identity), params.customer_id))) throw notFound("customer");
      return { status: 204, body: null };
    },
  });
}
