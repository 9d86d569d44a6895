// Mentorship across a cluster: the instance hosting a matching is killed (SIGKILL) while it tells
// both drivers (client-events delivered, its answer lost); a survivor takes the matching over and
// finishes the step, telling nobody twice, journaling each status change once; every status
// change leaves on `<cluster>.events.matching.<id>`, valid against the documented schema.
import { readFileSync } from "node:fs";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Schema } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClientEventsSimulator, type ClientEventsSimulator } from "../../integrations/clientEvents/index.ts";
import { crmSimulator, type CrmSimulator } from "../../integrations/crm/index.ts";
import { startDriverProfilesSimulator, type DriverProfilesSimulator } from "../../integrations/driverProfiles/index.ts";
import { startFleetRentSimulator, type FleetRentSimulator } from "../../integrations/fleetRent/index.ts";
import { startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import { pointIn, startTrackstorySimulator, type TrackstorySimulator } from "../../integrations/trackstory/index.ts";
import { MatchingPublicEvent } from "../../services/mentorship/publicEvents.ts";
import { jsonSchemaOf } from "../../services/publicEvents.ts";
import { clusterHarness, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";

let cluster: ClusterHarness;
let nc: NatsConnection;
let sims: {
  profiles: DriverProfilesSimulator;
  personal: PersonalSimulator;
  trackstory: TrackstorySimulator;
  fleetRent: FleetRentSimulator;
  clientEvents: ClientEventsSimulator;
};
let crm: CrmSimulator;

beforeAll(async () => {
  sims = {
    profiles: await startDriverProfilesSimulator(),
    personal: await startPersonalSimulator(),
    trackstory: await startTrackstorySimulator(),
    fleetRent: await startFleetRentSimulator(),
    clientEvents: await startClientEventsSimulator(),
  };
  const env: Record<string, string> = {
    DRIVER_PROFILES_URL: sims.profiles.url,
    PERSONAL_URL: sims.personal.url,
    TRACKSTORY_URL: sims.trackstory.url,
    FLEET_RENT_URL: sims.fleetRent.url,
    CLIENT_EVENTS_URL: sims.clientEvents.url,
    // The test plays the CRM over the cluster's tables.
    CRM_SIMULATOR: "false",
    PARTNER_RETRIES: "0",
    MENTORSHIP_MATCH_IMPORT_MS: "300",
    MENTORSHIP_RETRY_BASE_MS: "300",
    MENTORSHIP_RETRY_MAX_MS: "1000",
  };
  cluster = await clusterHarness({ env });
  // The CRM tables live in the cluster's own schema, dropped with it (nodes read `env` when they start).
  env.CRM_SCHEMA = cluster.db.schema;
  crm = crmSimulator({ sql: cluster.db.sql, schema: cluster.db.schema, mentors: [{ park_id: "park-c", driver_id: "mentor" }] });
  await Promise.all(["m1", "m2"].map((id) => cluster.start(id)));
  nc = await connect({ servers: cluster.natsUrl });
}, 90_000);
afterAll(async () => {
  await nc?.close();
  await crm?.close();
  await cluster?.close();
  await Promise.all(Object.values(sims ?? {}).map((s) => s.close()));
});

const statusOf = async (id: string) => (await cluster.db.sql<{ status: string }[]>`select status from matchings where id = ${id}`)[0]?.status;

describe("mentorship in a cluster", () => {
  it("the documented JSON Schema is the one the events are checked with", () => {
    const doc = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../docs/events/matching.schema.json"), "utf8"));
    expect(doc).toEqual(jsonSchemaOf("matching"));
  });

  it("the host killed mid-notification: a survivor finishes the step, each driver told once, each change journaled and published", async () => {
    for (const [driver_id, name, phone] of [
      ["newbie", "Ilya Newbie", "+79167770001"],
      ["mentor", "Olga Mentor", "+79167770002"],
    ] as const) {
      const phone_pd_id = sims.personal.preload("phones", phone);
      sims.profiles.upsert([{ park_id: "park-c", driver_id, driver_license_pd_id: `pd-licence-cluster-${driver_id}`, phone_pd_id, name }]);
    }
    sims.trackstory.move([{ park_id: "park-c", driver_id: "newbie", ...pointIn("moscow") }]);
    const received: unknown[] = [];
    const sub = nc.subscribe(`${cluster.name}.events.matching.*`, {
      callback: (_e, m) => {
        received.push(JSON.parse(new TextDecoder().decode(m.data)));
      },
    });
    await nc.flush();

    const [first] = [...cluster.nodes.values()];
    const confirmed = await fetch(`${first!.url}/driver/v1/contractor-mentorship/v1/confirm`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKENS.driver}`, "x-yataxi-park-id": "park-c", "x-yataxi-driver-profile-id": "newbie" },
    });
    expect(confirmed.status).toBe(200);
    const { matching_id: id } = (await confirmed.json()) as { matching_id: string };
    await eventually(async () => (await statusOf(id)) === "requested", 20_000);

    // Delivered, but the answer never comes back: the matching keeps retrying from `matched`.
    sims.clientEvents.faults.lostReplyRate = 1;
    await crm.tick(new Date());
    await eventually(
      async () => (await statusOf(id)) === "matched" && sims.clientEvents.delivered().filter((n) => n.idempotency_key === `${id}:matched`).length === 2,
      20_000,
    );
    const host = await eventually(async () => {
      for (const node of cluster.nodes.values()) {
        const hosted = await cluster.admin(node, "/admin/v1/actors?type=matching");
        if (hosted.items.some((a: { id: string }) => a.id === id)) return node.id;
      }
      return undefined;
    });
    await cluster.kill(host);
    sims.clientEvents.faults.lostReplyRate = 0;

    await eventually(async () => (await statusOf(id)) === "initialized", 30_000, 100);
    expect(sims.clientEvents.delivered().filter((n) => n.idempotency_key === `${id}:matched`)).toHaveLength(2);
    const history = await cluster.db.sql`select "to" from status_transitions where matching_id = ${id} order by seq`;
    expect(history.map((h) => h.to)).toEqual(["created", "requested", "matched", "initialized"]);
    expect((await crm.snapshot()).newDrivers.filter((r) => r.matching_id === id)).toHaveLength(1);

    await eventually(() => received.some((e) => (e as { id: string; status: string }).id === id && (e as { status: string }).status === "initialized"), 15_000);
    sub.unsubscribe();
    const events = received.map((e) => Schema.decodeUnknownSync(MatchingPublicEvent, { onExcessProperty: "error" })(e)).filter((e) => e.id === id);
    // At least once: a change re-published after the kill is a repeat of the same seq.
    const bySeq = new Map(events.map((e) => [e.seq, e]));
    expect([...bySeq.values()].sort((a, b) => a.seq - b.seq).map((e) => e.status)).toEqual(["created", "requested", "matched", "initialized"]);
    expect(events.every((e) => e.newbie_park_id === "park-c" && e.newbie_driver_id === "newbie")).toBe(true);
    expect(JSON.stringify(events)).not.toMatch(/7916777|Ilya|Olga/);
  }, 120_000);
});
