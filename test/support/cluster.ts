// Multi-instance harness: instances as child processes on one Postgres schema and one NATS,
// namespaced by a cluster name of their own so parallel suites never meet.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { connect, type ConnectionOptions } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { DATABASE_URL, eventually, testDatabase, type TestDatabase } from "./harness.ts";
import { PRODUCTION_TEST_ENV, TOKENS } from "./instance.ts";

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
  /** Waits until every node sees the same `members` and the shards are spread within one of even. */
  balanced(members: number): Promise<void>;
  close(): Promise<void>;
}

const root = path.resolve(import.meta.dirname, "../..");

export async function clusterHarness(
  options: {
    /** The cluster's name; default a random one. */
    name?: string;
    natsUrl?: string;
    leaseMs?: number;
    shardCount?: number;
    env?: Record<string, string>;
    /** How the harness itself connects to clean up (a NATS with logins). */
    natsOptions?: ConnectionOptions;
  } = {},
): Promise<ClusterHarness> {
  const name = options.name ?? `c${randomBytes(4).toString("hex")}`;
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
      ...PRODUCTION_TEST_ENV,
      DEMO_DATA: "false",
      TEST_DATABASE_URL: DATABASE_URL,
      TEST_DB_SCHEMA: db.schema,
      ...options.env,
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

  const admin = async (node: Node, p: string): Promise<any> =>
    (await fetch(`${node.url}${p}`, { headers: { authorization: `Bearer ${TOKENS.admin}` } })).json();
  const shardCount = options.shardCount ?? 64;
  const balanced = async (members: number) => {
    let seen: unknown;
    const check = async () => {
      const views = await Promise.all([...nodes.values()].map((n) => admin(n, "/admin/v1/cluster")));
      seen = views;
      const owned = views.map((v) => v.owned_shards as number);
      const even = shardCount / members;
      return views.every((v) => v.members.length === members) && owned.reduce((a, b) => a + b, 0) === shardCount && owned.every((o) => Math.abs(o - even) < 1);
    };
    // Generous: a handover under load on a slow, shared machine can take this long; what is
    // checked is that balance is reached, not how fast.
    await eventually(check, 60_000, 200).catch((error) => {
      const logs = [...nodes.values()].map((n) => `--- ${n.id}\n${n.output().slice(-4_000)}`).join("\n");
      throw new Error(`${String(error)}\nlast seen: ${JSON.stringify(seen)}\n${logs}`);
    });
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
    admin,
    balanced,
    close: async () => {
      await Promise.all([...nodes.keys()].map((id) => signal(id, "SIGKILL")));
      const nc = await connect({ servers: natsUrl, ...options.natsOptions });
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

export interface LoadResult {
  /** Operations acknowledged (HTTP 200), per ledger. */
  acked: Map<string, string[]>;
  /** Operations not acknowledged within their budget, retries included. */
  failed: string[];
}

/**
 * Continuous load: workers apply fresh operations to random ledgers through random live nodes,
 * retrying an unacknowledged operation (same id) on another node until its budget runs out.
 */
export function ledgerLoad(cluster: ClusterHarness, options: { ledgers: number; concurrency: number; budgetMs: number }) {
  const acked = new Map<string, string[]>();
  const failed: string[] = [];
  let running = true;
  let next = 0;
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;
  const worker = async () => {
    while (running) {
      const ledger = `l${Math.floor(Math.random() * options.ledgers)}`;
      const op = `op-${next++}`;
      const started = Date.now();
      for (;;) {
        const nodes = [...cluster.nodes.values()];
        if (nodes.length > 0) {
          const res = await cluster.apply(pick(nodes), ledger, op, 3_000).catch(() => undefined);
          if (res?.status === 200) {
            acked.set(ledger, [...(acked.get(ledger) ?? []), op]);
            break;
          }
        }
        if (Date.now() - started > options.budgetMs) {
          failed.push(op);
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const workers = Array.from({ length: options.concurrency }, worker);
  return {
    ackedCount: () => [...acked.values()].reduce((n, ops) => n + ops.length, 0),
    stop: async (): Promise<LoadResult> => {
      running = false;
      await Promise.all(workers);
      return { acked, failed };
    },
  };
}

/** Every acknowledged operation is in its ledger, and no operation was applied twice. */
export async function checkLedgers(cluster: ClusterHarness, result: LoadResult): Promise<{ missing: string[]; duplicated: string[] }> {
  const states = await ledgerStates(cluster.db);
  const missing: string[] = [];
  const duplicated: string[] = [];
  for (const [ledger, ops] of result.acked) {
    const applied = states.get(ledger) ?? [];
    for (const op of ops) if (!applied.includes(op)) missing.push(`${ledger}:${op}`);
  }
  for (const [ledger, applied] of states) {
    if (new Set(applied).size !== applied.length) duplicated.push(ledger);
  }
  return { missing, duplicated };
}
