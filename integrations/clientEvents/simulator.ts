// A fake client-events: records every notification it delivers, once per idempotency key.
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { PushRequest, type DriverNotification } from "./client.ts";

export interface DeliveredNotification extends DriverNotification {
  readonly idempotency_key: string;
}

export interface ClientEventsSimulator extends Simulator {
  /** Every notification delivered so far, in order; a repeated key adds none. */
  delivered(): DeliveredNotification[];
}

interface Push {
  readonly fingerprint: string;
  readonly answer: { readonly delivered: number };
}

/**
 * Serves `POST /v1/notifications/bulk`, plus `GET /__client-events/notifications` -> `{notifications}`
 * for other processes.
 * @example const sim = await startClientEventsSimulator(); sim.delivered().filter((n) => n.driver_id === "mentor-1")
 */
export async function startClientEventsSimulator(options: { readonly port?: number } = {}): Promise<ClientEventsSimulator> {
  const delivered: DeliveredNotification[] = [];
  const byKey = new Map<string, Push>();

  const sim = await startSimulator({
    name: "client_events",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.post("/v1/notifications/bulk", async (req, res) => {
        const body = await decodeBody(req, res, PushRequest);
        if (body === undefined) return;
        const fingerprint = canonicalJson(body.notifications);
        const earlier = byKey.get(body.idempotency_key);
        if (earlier !== undefined) {
          if (earlier.fingerprint === fingerprint) return res.json(earlier.answer);
          // The same key with other notifications is a caller bug; delivering either would hide it.
          return res.status(409).json({ code: "idempotency_key_reused", message: "key was used for other notifications" });
        }
        for (const n of body.notifications) delivered.push({ idempotency_key: body.idempotency_key, ...n });
        const answer = { delivered: body.notifications.length };
        byKey.set(body.idempotency_key, { fingerprint, answer });
        res.json(answer);
      });
      app.get("/__client-events/notifications", (_req, res) => res.json({ notifications: delivered }));
    },
  });
  return { ...sim, delivered: () => [...delivered] };
}

/** JSON with object keys sorted: a retry that built the same payload in another key order is the same push. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
