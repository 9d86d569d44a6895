// Multi-instance harness: instances as child processes on one Postgres schema and one NATS,
// namespaced by a cluster name of their own so parallel suites never meet.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { DATABASE_URL, testDatabase, type TestDatabase } from "./harness.ts";
import { TOKENS } from "./instance.ts";

export interface Node {
  id: string;
  url: string;
  proc: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

export interface ClusterHarness {
  name: string;
  natsUrl: string;
  db: TestDatabase;
  nodes: Map<string, Node>;
  start(id: string): Promise<Node>;
  /** Graceful stop (SIGTERM) and wait for the exit. */
  stop(id: string): Promise<void>;
  kill(id: string): Promise<void>;
  apply(node: Node, ledger: string, op: string, timeoutMs?: number): Promise<{ status: number; body: any }>;
  admin(node: Node, path: string): Promise<any>;
  close(): Promise<void>;
}

const root = path.resolve(import.meta.dirname, "../..");

export async function clusterHarness(options: { natsUrl?: string; leaseMs?: number; shardCount?: number } = {}): Promise<ClusterHarness> {
  const name = `c${randomBytes(4).toString("hex")}`;
  const natsUrl = options.natsUrl ?? "nats://127.0.0.1:4222";
  const db = await testDatabase("cluster");
  const nodes = new Map<string, Node>();

  const start = async (id: string): Promise<Node> => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: "0",
      INSTANCE_ID: id,
      NATS_URL: natsUrl,
      CLUSTER_NAME: name,
      CLUSTER_LEASE_MS: String(options.leaseMs ?? 2_000),
      SHARD_COUNT: String(options.shardCount ?? 64),
      AUTH_TOKENS: Object.entries(TOKENS).map(([r, t]) => `${r}=${t}`).join(","),
      DEMO_DATA: "false",
      TEST_DATABASE_URL: DATABASE_URL,
      TEST_DB_SCHEMA: db.schema,
    };
    const proc = spawn(process.execPath, ["--import", "tsx", "test/support/clusterNode.ts"], { cwd: root, env });
    let out = "";
    proc.stdout!.on("data", (c) => (out += c));
    proc.stderr!.on("data", (c) => (out += c));
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id} did not start:\n${out}`)), 30_000);
      const onData = () => {
        const m = out.match(/\{"ready":"(http:[^"]+)"/);
        if (m) {
          clearTimeout(timer);
          proc.stdout!.off("data", onData);
          resolve(m[1]!);
        }
      };
      proc.stdout!.on("data", onData);
      void exited.then(() => reject(new Error(`${id} exited:\n${out}`)));
    });
    const node = { id, url, proc, exited, output: () => out };
    nodes.set(id, node);
    return node;
  };

  const signal = async (id: string, sig: NodeJS.Signals) => {
    const node = nodes.get(id);
    if (!node) return;
    nodes.delete(id);
    node.proc.kill(sig);
    await node.exited;
  };

  return {
    name,
    natsUrl,
    db,
    nodes,
    start,
    stop: (id) => signal(id, "SIGTERM"),
    kill: (id) => signal(id, "SIGKILL"),
    apply: async (node, ledger, op, timeoutMs = 4_000) => {
      const res = await fetch(`${node.url}/test/v1/ledgers/${ledger}/apply`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKENS.internal}`, "content-type": "application/json" },
        body: JSON.stringify({ op }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, body: await res.json() };
    },
    admin: async (node, p) => (await fetch(`${node.url}${p}`, { headers: { authorization: `Bearer ${TOKENS.admin}` } })).json(),
    close: async () => {
      await Promise.all([...nodes.keys()].map((id) => signal(id, "SIGKILL")));
      const nc = await connect({ servers: natsUrl });
      const kvm = new Kvm(nc);
      for (const bucket of [`${name}_members`, `${name}_shards`]) await (await kvm.open(bucket)).destroy().catch(() => {});
      await nc.close();
      await db.drop();
    },
  };
}

/** Final applied operations per ledger, read straight from the snapshots. */
export async function ledgerStates(db: TestDatabase): Promise<Map<string, string[]>> {
  const rows = await db.sql<{ actor_id: string; snapshot: { context: { applied: string[] } } }[]>`
    select actor_id, snapshot from actor_snapshots where actor_type = 'ledger'`;
  return new Map(rows.map((r) => [r.actor_id, r.snapshot.context.applied]));
}
