// Helpers shared by the integration suites (no database needed, so not the main harness).
import { startSimulator } from "../../integrations/index.ts";

/** Resolves once `check()` is truthy; polls every 5 ms. */
export async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A loopback URL where nothing listens: the port was just freed. */
export async function refusingUrl(): Promise<string> {
  const sim = await startSimulator({ name: "gone", routes: () => {} });
  await sim.close();
  return sim.url;
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}
