// Bookings under client retries: with asks timing out while the cabinet actor still commits, a
// client retrying every 5xx with its Idempotency-Key gets one booking per key.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let h: CabinetHarness;
beforeAll(async () => {
  h = await startCabinetHarness({ ASK_TIMEOUT_MS: "15" });
});
afterAll(async () => {
  await h?.close();
});

async function untilAcknowledged(method: string, path: string, body: unknown, key?: string) {
  for (let attempt = 1; attempt <= 300; attempt++) {
    const res = await h.call(method, path, body, key ? { "idempotency-key": key } : undefined);
    if (res.status < 300) return { ...res, attempts: attempt };
    if (res.status < 500 && res.body.code !== "request_in_progress") throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${path}: never acknowledged`);
}

describe("cabinets: retries", () => {
  it("50 bookings, every 5xx retried with its key under a 15 ms ask timeout: exactly one booking per key", async () => {
    h.sim.add(cabinetSpec("CAB-RT", { cells: 54, charged: 54 }));
    await untilAcknowledged("PUT", "/cabinets/CAB-RT", { lat: 55.7, lon: 37.6 });
    await eventually(async () => (await h.call("GET", "/cabinets/CAB-RT")).body.cells?.length === 54, 10_000);

    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        untilAcknowledged("POST", "/cabinets/CAB-RT/bookings", { kind: "issue", count: 1, contractor_id: `tech-${i}` }, `book-${i}`),
      ),
    );
    expect(results.some((r) => r.attempts > 1)).toBe(true); // the timeouts really happened
    expect(new Set(results.map((r) => r.body.booking_id)).size).toBe(50);
    const view = (await h.call("GET", "/cabinets/CAB-RT")).body;
    expect(view.bookings).toHaveLength(50);
    expect(view.cells.filter((c: { booking_id: string | null }) => c.booking_id !== null)).toHaveLength(50);
  }, 60_000);
});
