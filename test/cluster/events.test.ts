// Public events leave after commit on `<cluster>.events.<type>.<id>`, decode with the documented
// schema, and carry a growing `seq`.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Schema } from "effect";
import { MailingPublicEvent } from "../../services/mailings/publicEvents.ts";
import { jsonSchemaOf } from "../../services/publicEvents.ts";
import { clusterHarness, type ClusterHarness } from "../support/cluster.ts";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";

let cluster: ClusterHarness;
let nc: NatsConnection;
beforeAll(async () => {
  cluster = await clusterHarness();
  await Promise.all(["e1", "e2"].map((id) => cluster.start(id)));
  nc = await connect({ servers: cluster.natsUrl });
}, 90_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.close();
});

describe("public events", () => {
  it("the documented JSON Schema is the one the code validates with", () => {
    const doc = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../docs/events/mailing.schema.json"), "utf8"));
    expect(doc).toEqual(jsonSchemaOf("mailing"));
  });

  it("a mailing's state changes arrive after commit on its subject, valid against the schema", async () => {
    const received: { subject: string; payload: unknown }[] = [];
    const sub = nc.subscribe(`${cluster.name}.events.mailing.*`, {
      callback: (_e, m) => {
        received.push({ subject: m.subject, payload: JSON.parse(new TextDecoder().decode(m.data)) });
      },
    });
    await nc.flush();
    const node = cluster.nodes.get("e1")!;
    const res = await fetch(`${node.url}/fleet/communications/v1/mailings`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKENS.fleet}`, "x-park-id": "park-ev", "x-yandex-uid": "5", "content-type": "application/json" },
      body: JSON.stringify({ message: "hello" }),
    });
    expect(res.status).toBe(202);
    const { mailing_id } = (await res.json()) as { mailing_id: string };
    const mine = () => received.filter((r) => r.subject === `${cluster.name}.events.mailing.${mailing_id}`);
    await eventually(() => mine().some((r) => (r.payload as { state: string }).state === "sent"), 15_000);
    sub.unsubscribe();

    const events = mine().map((r) => Schema.decodeUnknownSync(MailingPublicEvent)(r.payload));
    expect(events.map((e) => e.state)).toEqual(["created", "sent"]);
    expect(events.every((e) => e.id === mailing_id && e.park_id === "park-ev")).toBe(true);
    expect(events[1]!.seq).toBeGreaterThan(events[0]!.seq);
    expect(events[1]!.recipients_count).toBe(0);
    // Published after commit: by the time it is seen, the projection already says so.
    const view = await fetch(`${node.url}/fleet/communications/v1/mailings/${mailing_id}`, {
      headers: { authorization: `Bearer ${TOKENS.fleet}`, "x-park-id": "park-ev", "x-yandex-uid": "5" },
    });
    expect(((await view.json()) as { status: string }).status).toBe("sent");
  });
});
