// Bookings of a cabinet's cells: book, release, open. Refusals of an unresponsive cabinet, a
// broker that is down or a device that did not answer become 503 / 504 in http/errors.ts.
import { Schema, Struct } from "effect";
import type { Server } from "hyper-express";
import { BookEvent, type BookingReply, type OpenReply } from "../../../machines/cabinet.machine.ts";
import { route } from "../../route.ts";
import { applyMoves, askCabinet, BookingParams, CabinetParams, type CabinetRouteDeps, iso, prefix, requireCabinet } from "./common.ts";

/** What the caller chooses of a `book`: the booking id is made here, `min_charge` and the TTL default to the policy. */
const Book = BookEvent.mapFields((fields) => ({
  ...Struct.pick(fields, ["kind", "count", "contractor_id"]),
  min_charge: Schema.optional(fields.min_charge),
}));

/** Time left between the cabinet's last possible answer and the ask's timeout, for the commit and the way back. */
const OPEN_REPLY_MARGIN_MS = 500;

export function bookingRoutes(app: Server, deps: CabinetRouteDeps): void {
  const { system, sql, policy } = deps;

  route(app, deps, {
    method: "post",
    path: `${prefix}/cabinets/:cabinet_id/bookings`,
    role: "internal",
    doc: { summary: "Book cells: charged accumulators to issue or empty cells to return into", success: [201], errors: [404, 409, 504] },
    params: CabinetParams,
    body: Book,
    idempotent: true,
    handle: async ({ params, body, newId }) => {
      await requireCabinet(sql, params.cabinet_id);
      // No broker, no issue or return (seed): the cells could not be opened.
      await deps.broker.check();
      // From the Idempotency-Key: a retried book reaches the booking the first attempt made.
      const reply = await askCabinet<BookingReply>(system, params.cabinet_id, {
        type: "book",
        booking_id: newId(),
        kind: body.kind,
        count: body.count,
        contractor_id: body.contractor_id,
        min_charge: body.min_charge ?? policy.chargedMinCharge,
        ttl_ms: policy.bookingTtlMs,
      });
      return { status: 201, body: { cabinet_id: params.cabinet_id, ...reply, expires_at: iso(reply.expires_at) } };
    },
  });

  route(app, deps, {
    method: "delete",
    path: `${prefix}/cabinets/:cabinet_id/bookings/:booking_id`,
    role: "internal",
    doc: { summary: "Release a booking not yet opened", errors: [404, 409, 504] },
    params: BookingParams,
    handle: async ({ params }) => {
      await requireCabinet(sql, params.cabinet_id);
      const reply = await askCabinet<{ booking_id: string; status: string }>(system, params.cabinet_id, {
        type: "release",
        booking_id: params.booking_id,
      });
      return { status: 200, body: reply };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/cabinets/:cabinet_id/bookings/:booking_id/open`,
    role: "internal",
    doc: { summary: "Unlock the booking's cells (waits for the cabinet's answer)", errors: [404, 409, 504] },
    params: BookingParams,
    idempotent: true,
    handle: async ({ params }) => {
      await requireCabinet(sql, params.cabinet_id);
      // Room for one unlock queued ahead of this one, then this one's own command timeout. The
      // cabinet answers before the ask gives up (`reply_by`): an unlock it could not finish by then
      // is cut short or never sent, so a 504 here never hides a reassignment.
      const timeoutMs = 2 * policy.commandTimeoutMs + 2_000;
      const reply_by = deps.now() + timeoutMs - OPEN_REPLY_MARGIN_MS;
      const reply = await askCabinet<OpenReply>(system, params.cabinet_id, { type: "open", booking_id: params.booking_id, reply_by }, { timeoutMs });
      await applyMoves(system, reply.moves);
      const { moves: _moves, opened_at, ...rest } = reply;
      return { status: 200, body: { cabinet_id: params.cabinet_id, ...rest, opened_at: iso(opened_at) } };
    },
  });
}
