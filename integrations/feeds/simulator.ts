// A fake feeds service: records deliveries per recipient and answers repeats of a batch from memory.
import { randomUUID } from "node:crypto";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { PublishRequest } from "./client.ts";

export interface Delivery {
  readonly idempotency_key: string;
  readonly park_id: string;
  readonly recipient: string;
  readonly message: string;
}

export interface FeedsSimulator extends Simulator {
  /** Every delivery so far, in order. */
  deliveries(): Delivery[];
}

interface Published {
  readonly fingerprint: string;
  readonly answer: { readonly feed_id: string; readonly delivered: number };
}

/**
 * Serves `POST /v1/feeds/publish`, plus `GET /__deliveries` -> `{deliveries}` for other processes.
 * @example const sim = await startFeedsSimulator(); sim.deliveries()
 */
export async function startFeedsSimulator(options: { readonly port?: number } = {}): Promise<FeedsSimulator> {
  const delivered: Delivery[] = [];
  const byKey = new Map<string, Published>();

  const sim = await startSimulator({
    name: "feeds",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.post("/v1/feeds/publish", async (req, res) => {
        const body = await decodeBody(req, res, PublishRequest);
        if (body === undefined) return;
        const fingerprint = JSON.stringify([body.park_id, body.recipients, body.message]);
        const earlier = byKey.get(body.idempotency_key);
        if (earlier !== undefined) {
          if (earlier.fingerprint === fingerprint) return res.json(earlier.answer);
          // The same key with another payload is a caller bug; delivering either would hide it.
          return res.status(409).json({ code: "idempotency_key_reused", message: "key was used for another batch" });
        }
        const recipients = [...new Set(body.recipients)];
        for (const recipient of recipients) {
          delivered.push({ idempotency_key: body.idempotency_key, park_id: body.park_id, recipient, message: body.message });
        }
        const answer = { feed_id: randomUUID(), delivered: recipients.length };
        byKey.set(body.idempotency_key, { fingerprint, answer });
        res.json(answer);
      });
      app.get("/__deliveries", (_req, res) => res.json({ deliveries: delivered }));
    },
  });
  return { ...sim, deliveries: () => [...delivered] };
}
