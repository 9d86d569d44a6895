// Mailings under rebalancing: three instances, mailings created through any of them while the
// partners answer slowly, instances SIGKILLed and SIGSTOPped past the lease, and a scale-out.
// Every acknowledged mailing reaches a final state without any further message, once each.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFeedsSimulator, type FeedsSimulator } from "../../integrations/feeds/simulator.ts";
import { startParksSimulator, type ParksSimulator } from "../../integrations/parks/simulator.ts";
import { clusterHarness, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";

const LEASE_MS = 2_000;
const DRIVERS = 25;
let cluster: ClusterHarness;
let parks: ParksSimulator;
let feeds: FeedsSimulator;

beforeAll(async () => {
  parks = await startParksSimulator({
    parks: { "park-s": Array.from({ length: DRIVERS }, (_, i) => ({ driverId: `d${i}`, workRule: "default", status: "online" as const })) },
  });
  feeds = await startFeedsSimulator();
  // Slow partners keep many mailings mid-call when an instance dies or pauses.
  parks.faults.slowMs = 150;
  feeds.faults.slowMs = 150;
  cluster = await clusterHarness({
    leaseMs: LEASE_MS,
    // A killed attempt's Idempotency-Key claim lives its lease (409 to retries meanwhile): 3 s here,
    // so the client's retries outlast it and every key ends acknowledged.
    env: { PARKS_URL: parks.url, FEEDS_URL: feeds.url, MAILING_BATCH_SIZE: "10", PARTNER_TIMEOUT_MS: "2000", IDEMPOTENCY_LEASE_MS: "3000" },
  });
  await Promise.all(["s1", "s2"].map((id) => cluster.start(id)));
}, 90_000);
afterAll(async () => {
  for (const node of cluster?.nodes.values() ?? []) node.proc.kill("SIGCONT");
  await cluster?.close();
  await parks?.close();
  await feeds?.close();
});

/** Creates mailings at about `perSecond`, each retried with its key through any live node until acknowledged. */
function mailingLoad(perSecond: number) {
  const acknowledged = new Map<string, string>(); // key -> mailing id
  let running = true;
  let n = 0;
  const create = async (key: string) => {
    for (let attempt = 0; running || attempt < 200; attempt++) {
      const nodes = [...cluster.nodes.values()];
      const node = nodes[Math.floor(Math.random() * nodes.length)];
      if (node) {
        const res = await fetch(`${node.url}/fleet/communications/v1/mailings`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${TOKENS.fleet}`,
            "x-park-id": "park-s",
            "x-yandex-uid": "77",
            "idempotency-key": key,
            "content-type": "application/json",
          },
          body: JSON.stringify({ message: `load ${key}` }),
          signal: AbortSignal.timeout(3_000),
        }).catch(() => undefined);
        if (res?.status === 202) {
          acknowledged.set(key, ((await res.json()) as { mailing_id: string }).mailing_id);
          return;
        }
        await res?.body?.cancel();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const inFlight: Promise<void>[] = [];
  const loop = (async () => {
    while (running) {
      inFlight.push(create(`key-${n++}`));
      await new Promise((r) => setTimeout(r, 1000 / perSecond));
    }
  })();
  return {
    acknowledged,
    stop: async () => {
      running = false;
      await loop;
      await Promise.all(inFlight);
      return acknowledged;
    },
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("work stranded by rebalancing", () => {
  it("kills, pauses and a scale-out under load: every acknowledged mailing ends, within lease + 10 s of the last fault, each delivered once", async () => {
    const load = mailingLoad(15);
    await pause(2_000);
    await cluster.start("s3"); // scale-out: shards move while mailings are mid-call
    await pause(2_000);
    await cluster.kill("s1");
    await pause(LEASE_MS + 1_500);
    const paused = cluster.nodes.get("s2")!;
    paused.proc.kill("SIGSTOP"); // past the lease: its shards are taken while it sleeps
    await pause(LEASE_MS + 2_000);
    paused.proc.kill("SIGCONT");
    await cluster.start("s4");
    await pause(2_000);
    await cluster.kill("s3");
    const lastFault = Date.now();
    const acknowledged = await load.stop();
    expect(acknowledged.size).toBeGreaterThan(50);

    const ids = [...acknowledged.values()];
    const unfinished = async () => {
      const rows = await cluster.db.sql<{ actor_id: string; value: unknown }[]>`
        select actor_id, snapshot->'value' as value from actor_snapshots
        where actor_type = 'mailing' and actor_id = any(${ids}::text[])`;
      const done = new Set(rows.filter((r) => ["sent", "failed", "cancelled"].includes(r.value as string)).map((r) => r.actor_id));
      return ids.filter((id) => !done.has(id));
    };
    await eventually(async () => (await unfinished()).length === 0, LEASE_MS + 10_000 + (Date.now() - lastFault), 250).catch(async () => {
      throw new Error(`unfinished mailings: ${(await unfinished()).slice(0, 10).join(", ")} (${(await unfinished()).length} of ${ids.length})`);
    });

    // One mailing per key, and every driver got each acknowledged mailing once.
    const created = await cluster.db.sql`select count(*)::int as n from actor_snapshots where actor_type = 'mailing'`;
    expect(created[0]!.n).toBe(acknowledged.size);
    const perRecipient = new Map<string, number>();
    for (const d of feeds.deliveries()) {
      const mailing = d.idempotency_key.split(":")[0]!;
      const key = `${mailing}/${d.recipient}`;
      perRecipient.set(key, (perRecipient.get(key) ?? 0) + 1);
    }
    expect([...perRecipient.values()].filter((n) => n > 1)).toEqual([]);
    const states = await cluster.db.sql<{ value: string; n: number }[]>`
      select snapshot->>'value' as value, count(*)::int as n from actor_snapshots where actor_type = 'mailing' group by 1`;
    expect(states).toEqual([{ value: "sent", n: acknowledged.size }]);
    for (const id of ids) for (let i = 0; i < DRIVERS; i++) expect(perRecipient.get(`${id}/d${i}`), `${id} to d${i}`).toBe(1);
  }, 180_000);
});
