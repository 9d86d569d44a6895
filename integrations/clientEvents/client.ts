// The client-events port: notifications pushed to drivers' apps in bulk, idempotent by a key the
// caller chooses (one per step of its work). Its HTTP contract and client.
import { Schema } from "effect";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";

/** The most notifications one push may carry. */
export const maxNotificationsPerPush = 1000;

export const DriverNotification = Schema.Struct({
  park_id: Schema.NonEmptyString,
  driver_id: Schema.NonEmptyString,
  /** What happened, for the app to choose its screen and text (e.g. `mentorship.matched`). */
  event: Schema.NonEmptyString,
  payload: Schema.Record(Schema.String, Schema.Unknown),
});
export type DriverNotification = typeof DriverNotification.Type;

/** `POST /v1/notifications/bulk`: a repeat of a key delivers nothing again; the key with other notifications is 409. */
export const PushRequest = Schema.Struct({
  idempotency_key: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(256)),
  notifications: Schema.Array(DriverNotification).check(Schema.isNonEmpty(), Schema.isMaxLength(maxNotificationsPerPush)),
});
export const PushResponse = Schema.Struct({ delivered: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)) });

export interface ClientEventsClient {
  /**
   * Delivers `notifications` (at most 1000) once per `idempotencyKey`, however often it is called:
   * a retry after a crash or a lost answer delivers nothing twice. The same key must always carry the
   * same notifications (build them from the caller's stored state, never from the clock): another
   * set under a used key is refused (`client_events_rejected`, 409). Nothing to push sends nothing.
   */
  pushBulk(idempotencyKey: string, notifications: readonly DriverNotification[], signal?: AbortSignal): Promise<void>;
}

/**
 * Keyed, so the JSON client retries transient failures safely; failures are `client_events_*` partner errors.
 * @example await clientEventsClient({ baseUrl, timeoutMs: 2000, retries: 2 }).pushBulk(`${matchingId}:matched`, [{ park_id, driver_id, event: "mentorship.matched", payload: {} }])
 */
export function clientEventsClient(options: PartnerClientOptions): ClientEventsClient {
  const http: JsonClient = createJsonClient({ ...options, system: "client_events" });
  return {
    async pushBulk(idempotencyKey, notifications, signal) {
      if (notifications.length === 0) return;
      const body = { idempotency_key: idempotencyKey, notifications };
      await http.request("POST", "/v1/notifications/bulk", body, PushResponse, { signal });
    },
  };
}
