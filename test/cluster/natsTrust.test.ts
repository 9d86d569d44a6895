// NATS as a closed control plane: a private nats-server with the accounts README shows. Instances
// log in as fleet-instance and work as a cluster; an outsider (the events user, or anyone without
// the instance login) cannot send an envelope to an actor, take a shard or read envelopes; the
// events user reads public events; a wrong password or an untrusted server stops the start naming
// what to check.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { loadConfig } from "../../config.ts";
import { startInstance } from "../../instance.ts";
import { shardOf } from "../../actors/cluster/sharding.ts";
import { encodeJson } from "../../actors/transport/wire.ts";
import { clusterHarness, ledgerStates, type ClusterHarness } from "../support/cluster.ts";
import { eventually, silentLogger, testDatabase } from "../support/harness.ts";
import { PRODUCTION_TEST_ENV } from "../support/instance.ts";
import { makeCertificates, type TestCertificates } from "../support/certificates.ts";
import { natsAccountsConfig } from "../support/natsAccounts.ts";
import { startPrivateNats, type PrivateNats } from "../support/privateNats.ts";

const SHARDS = 16;
const passwords = { instance: randomBytes(12).toString("hex"), events: randomBytes(12).toString("hex"), statuses: randomBytes(12).toString("hex") };
const instanceLogin = { user: "fleet-instance", pass: passwords.instance };
let nats: PrivateNats;
let cluster: ClusterHarness;
let events: NatsConnection;
/** Errors the server sent the events user's connection (permission violations arrive this way). */
const refused: string[] = [];

beforeAll(async () => {
  // The cluster's name is its own (parallel suites never meet): the server is configured for it.
  const name = `c${randomBytes(4).toString("hex")}`;
  nats = await startPrivateNats({ config: natsAccountsConfig({ cluster: name, passwords }) });
  cluster = await clusterHarness({
    name,
    natsUrl: nats.url,
    shardCount: SHARDS,
    env: { NATS_USER: "fleet-instance", NATS_PASSWORD: passwords.instance },
    natsOptions: instanceLogin,
  });
  await Promise.all(["t1", "t2"].map((id) => cluster.start(id)));
  // What is tried here is trust, not handover (test/cluster/handoverAsks.test.ts): the asks
  // start once the start-up rebalancing is over.
  await cluster.balanced(2);
  events = await connect({ servers: nats.url, user: "fleet-events", pass: passwords.events });
  void (async () => {
    for await (const s of events.status()) if (s.type === "error") refused.push(String(s.error.message));
  })();
}, 90_000);
afterAll(async () => {
  await events?.close();
  await cluster?.close();
  await nats?.stop();
});

const envelopeTo = (ledger: string, op: string) => ({
  to: { type: "ledger", id: ledger },
  event: { type: "apply", op },
  messageId: `outsider-${op}`,
  deadline: Date.now() + 10_000,
});

describe("NATS trust", () => {
  it("instances logged in as fleet-instance form the cluster: asks are forwarded across and applied", async () => {
    const [t1] = [cluster.nodes.get("t1")!];
    await eventually(async () => (await cluster.admin(t1, "/admin/v1/cluster")).members?.length === 2);
    for (let i = 0; i < 12; i++) expect((await cluster.apply(t1, `l${i}`, `op-${i}`)).status).toBe(200);
    const metrics = await (await fetch(`${t1.url}/metrics`)).text();
    const forwarded = Number(metrics.match(/fleet_cluster_forwarded_ask_seconds_count\{outcome="ok"\} (\d+)/)?.[1] ?? 0);
    expect(forwarded).toBeGreaterThan(0);
  });

  it("an outsider's envelope to <cluster>.actors.> is refused by the server and never reaches the actor", async () => {
    const ledger = "guarded";
    const t1 = cluster.nodes.get("t1")!;
    expect((await cluster.apply(t1, ledger, "by-the-book")).status).toBe(200);
    const subject = `${cluster.name}.actors.${shardOf({ type: "ledger", id: ledger }, SHARDS)}.ledger.${ledger}`;
    const answer = await events.request(subject, encodeJson(envelopeTo(ledger, "smuggled")), { timeout: 2_000 }).catch((e: Error) => e);
    expect(answer).toBeInstanceOf(Error);
    await eventually(() => refused.some((m) => /permissions violation for publish/i.test(m) && m.includes(subject)));
    // Applied through the cluster afterwards: the actor's history has only what instances sent.
    expect((await cluster.apply(t1, ledger, "after")).status).toBe(200);
    expect((await ledgerStates(cluster.db)).get(ledger)).toEqual(["by-the-book", "after"]);
  });

  it("an outsider can neither take a shard (write the KV buckets) nor read envelopes", async () => {
    events.publish(`$KV.${cluster.name}_shards.shard-0`, JSON.stringify({ owner: "intruder" }));
    events.subscribe(`${cluster.name}.actors.>`);
    await eventually(
      () =>
        refused.some((m) => /permissions violation for publish/i.test(m) && m.includes(`$KV.${cluster.name}_shards`)) &&
        refused.some((m) => /permissions violation for subscription/i.test(m) && m.includes(`${cluster.name}.actors.>`)),
    );
    const t2 = cluster.nodes.get("t2")!;
    const status = await cluster.admin(t2, "/admin/v1/cluster");
    expect(JSON.stringify(status)).not.toContain("intruder");
  });

  it("the events user reads public events, which instances may publish", async () => {
    const received: string[] = [];
    events.subscribe(`${cluster.name}.events.>`, { callback: (_e, m) => void received.push(m.subject) });
    await events.flush();
    const publisher = await connect({ servers: nats.url, ...instanceLogin });
    try {
      publisher.publish(`${cluster.name}.events.mailing.m1`, "{}");
      await publisher.flush();
    } finally {
      await publisher.close();
    }
    await eventually(() => received.includes(`${cluster.name}.events.mailing.m1`));
  });

  it("the status stream's worker thread consumes with the instance login: a malformed status is taken and dead-lettered", async () => {
    const t1 = cluster.nodes.get("t1")!;
    const metric = async (pattern: RegExp) => (await (await fetch(`${t1.url}/metrics`)).text()).match(pattern);
    // The lag is read from JetStream by the running consumer: present once the stream runs.
    await eventually(() => metric(/fleet_status_stream_lag\{state="undelivered"\} \d+/));
    const publisher = await connect({ servers: nats.url, user: "status-publisher", pass: passwords.statuses });
    try {
      publisher.publish("contractor.statuses.events", "not a status");
      await publisher.flush();
    } finally {
      await publisher.close();
    }
    const deadLettered = async () => {
      let n = 0;
      for (const node of cluster.nodes.values()) {
        const text = await (await fetch(`${node.url}/metrics`)).text();
        n += Number(text.match(/fleet_status_events_total\{outcome="dead_lettered"\} (\d+)/)?.[1] ?? 0);
      }
      return n === 1;
    };
    await eventually(deadLettered);
    for (const node of cluster.nodes.values()) expect(node.output()).not.toMatch(/permissions violation/i);
  });

  it("a wrong NATS password stops the start with what to check, never the password", async () => {
    const db = await testDatabase("natsauth");
    try {
      const config = loadConfig({
        ...PRODUCTION_TEST_ENV,
        PORT: "0",
        DEMO_DATA: "false",
        NATS_URL: nats.url,
        CLUSTER_NAME: cluster.name,
        NATS_USER: "fleet-instance",
        NATS_PASSWORD: "not-the-password",
      });
      const error = await startInstance(config, { db, logger: silentLogger }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(
        /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: the server refused the login .*check NATS_USER and NATS_PASSWORD/,
      );
      expect((error as Error).message).not.toContain("not-the-password");
    } finally {
      await db.drop();
    }
  });
});

describe("NATS over TLS", () => {
  let tlsNats: PrivateNats;
  let certs: TestCertificates;
  const name = `c${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    certs = makeCertificates();
    tlsNats = await startPrivateNats({
      config: natsAccountsConfig({ cluster: name, passwords, tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca } }),
      scheme: "tls",
    });
  });
  afterAll(async () => {
    await tlsNats?.stop();
    certs?.close();
  });

  const tlsEnv = (ca: string) => ({
    ...PRODUCTION_TEST_ENV,
    PORT: "0",
    DEMO_DATA: "false",
    NATS_URL: tlsNats.url,
    CLUSTER_NAME: name,
    NATS_USER: "fleet-instance",
    NATS_PASSWORD: passwords.instance,
    NATS_TLS_CA: ca,
    NATS_TLS_CERT: certs.clientCert,
    NATS_TLS_KEY: certs.clientKey,
  });

  it("an instance with the CA and a client certificate joins over TLS; a server its CA did not sign is refused naming the TLS variables", async () => {
    const db = await testDatabase("natstls");
    try {
      const instance = await startInstance(loadConfig(tlsEnv(certs.ca)), { db, logger: silentLogger });
      try {
        await eventually(async () => (await fetch(`${instance.url}/ready`)).status === 200);
        expect(instance.cluster!.status().members).toEqual([instance.config.instanceId]);
      } finally {
        await instance.stop();
      }
      const error = await startInstance(loadConfig(tlsEnv(certs.otherCa)), { db, logger: silentLogger }).catch((e: Error) => e);
      expect((error as Error).message).toMatch(/cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: TLS failed .*check NATS_TLS_CA/);
    } finally {
      await db.drop();
    }
  });
});

describe("NATS configuration", () => {
  const base = { ...PRODUCTION_TEST_ENV, NATS_URL: "nats://127.0.0.1:4222" };
  const refusal = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error("accepted");
  };

  it("half a login, two logins, a file that cannot be read or credentials without a NATS are refused naming the variables, never their values", () => {
    expect(refusal({ NATS_USER: "fleet-instance" })).toContain("NATS_PASSWORD: required with NATS_USER");
    expect(refusal({ NATS_PASSWORD: "s3cret-value" })).toContain("NATS_USER: required with NATS_PASSWORD");
    expect(refusal({ NATS_TOKEN: "s3cret-value", NATS_USER: "u", NATS_PASSWORD: "s3cret-value" })).toContain("NATS_USER, NATS_TOKEN: give one way to log in");
    expect(refusal({ NATS_TLS_CA: "/nonexistent/ca.pem" })).toMatch(/NATS_TLS_CA: cannot read the file/);
    expect(refusal({ NATS_TLS_CERT: "/etc/hostname" })).toContain("NATS_TLS_KEY: required with NATS_TLS_CERT");
    const withoutNats = (() => {
      try {
        loadConfig({ NATS_TOKEN: "s3cret-value" });
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(withoutNats).toContain("NATS_URL: required with NATS_TOKEN");
    for (const message of [refusal({ NATS_PASSWORD: "s3cret-value" }), withoutNats]) expect(message).not.toContain("s3cret-value");
  });
});
