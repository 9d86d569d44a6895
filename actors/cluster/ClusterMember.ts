// One instance's membership in the cluster: the NATS connection, the NATS transport and the
// shard placement, wired to the actor system (serve on acquire, commit and hand over on
// release, drop on loss) and reported in /ready and /metrics.
import type { NatsConnection } from "@nats-io/transport-node";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Sql } from "../../storage/database.ts";
import type { ActorSystem, ActorSystemOptions } from "../ActorSystem.ts";
import type { Logger } from "../logger.ts";
import type { Address } from "../protocol.ts";
import { NatsTransport } from "../transport/NatsTransport.ts";
import { connectNats, type NatsAuth } from "../transport/natsConnection.ts";
import { Placement } from "./Placement.ts";
import { shardOf } from "./sharding.ts";

export interface ClusterOptions {
  natsUrl: string;
  /** Login and TLS of the connection. */
  natsAuth: NatsAuth;
  /** Namespace of subjects (`<cluster>.actors.…`, `<cluster>.events.…`) and KV buckets. */
  cluster: string;
  instanceId: string;
  shardCount: number;
  leaseMs: number;
  sql: Sql;
  logger: Logger;
  registry: Registry;
}

export class ClusterMember {
  readonly transport: NatsTransport;
  readonly placement: NonNullable<ActorSystemOptions["placement"]>;
  #placement: Placement | undefined;
  /** This instance's latest shard handovers, newest last (the inspector shows them). */
  readonly #handovers: { event: string; shard: number; at: string }[] = [];

  private constructor(
    readonly nc: NatsConnection,
    private readonly options: ClusterOptions,
    private readonly metrics: ReturnType<typeof clusterMetrics>,
  ) {
    const owns = (shard: number) => this.#placement?.owns(shard) ?? false;
    this.transport = new NatsTransport(nc, {
      prefix: options.cluster,
      shardCount: options.shardCount,
      logger: options.logger,
      owns,
      epochOf: (shard) => this.#placement?.epochOf(shard) ?? 0,
      ownerEpochOf: (shard) => this.#placement?.ownerEpochOf(shard) ?? 0,
      onForwarded: (ms, ok) => metrics.forwarded.observe({ outcome: ok ? "ok" : "error" }, ms / 1000),
    });
    this.placement = {
      shardOf: (address: Address) => shardOf(address, options.shardCount),
      epochOf: (shard: number) => this.#placement?.epochOf(shard) ?? 0,
      owns,
      ownedShards: () => this.#placement?.ownedShards() ?? [],
    };
  }

  /**
   * Connects to NATS; it keeps reconnecting for as long as the instance lives.
   * @example const member = await ClusterMember.connect({ natsUrl, cluster: "fleet", ... })
   */
  static async connect(options: ClusterOptions): Promise<ClusterMember> {
    const nc = await connectNats({ servers: options.natsUrl, name: options.instanceId, auth: options.natsAuth, pingInterval: 2_000 });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "reconnect")
          options.logger.warn(`nats ${s.type}`, { server: String((s as { server?: unknown }).server ?? "") });
      }
    })();
    return new ClusterMember(nc, options, clusterMetrics(options.registry));
  }

  /** Joins the placement: from here on this instance owns and serves its share of the shards. */
  async join(system: ActorSystem): Promise<void> {
    const { shardCount } = this.options;
    const inShard = (shard: number) => (a: Address) => shardOf(a, shardCount) === shard;
    this.#placement = await Placement.start({
      nc: this.nc,
      sql: this.options.sql,
      cluster: this.options.cluster,
      instanceId: this.options.instanceId,
      shardCount,
      leaseMs: this.options.leaseMs,
      logger: this.options.logger,
      onAcquire: async (shard) => {
        this.transport.serveShard(shard);
        system.acquired(shard);
      },
      onRelease: async (shard, epoch) => {
        this.transport.handOverShard(shard, epoch);
        await system.host.release(inShard(shard));
      },
      onLost: async (shard) => {
        this.transport.stopShard(shard);
        system.host.drop(inShard(shard));
      },
      onChange: (event, shard) => {
        this.metrics.handovers.inc({ event });
        this.#handovers.push({ event, shard, at: new Date().toISOString() });
        if (this.#handovers.length > 50) this.#handovers.shift();
        this.metrics.owned.set(this.#placement?.ownedShards().length ?? 0);
      },
    });
    this.metrics.owned.set(this.#placement.ownedShards().length);
  }

  status(): { members: readonly string[]; owned_shards: number; shard_count: number } {
    return {
      members: this.#placement?.liveMembers() ?? [],
      owned_shards: this.#placement?.ownedShards().length ?? 0,
      shard_count: this.options.shardCount,
    };
  }

  /** Shards per owner as this member sees them, and its latest handovers. */
  shards(): { owners: Record<string, number[]>; handovers: readonly { event: string; shard: number; at: string }[] } {
    return { owners: this.#placement?.owners() ?? {}, handovers: [...this.#handovers] };
  }

  /** The instance owning the shard of `address`, as this member last saw it. */
  ownerOf(type: string, id: string): string | undefined {
    return this.#placement?.ownerOf(shardOf({ type, id }, this.options.shardCount));
  }

  /** Readiness: NATS answers and this instance is a live member. */
  async check(): Promise<void> {
    if (this.nc.isClosed()) throw new Error("nats connection closed");
    await this.nc.flush();
    if (!this.#placement?.liveMembers().includes(this.options.instanceId)) throw new Error("not a cluster member yet");
  }

  /** Graceful: hand over every shard (its actors committed first), leave, close the connection. */
  async leave(): Promise<void> {
    await this.#placement?.leave();
    await this.transport.close();
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => {});
  }
}

function clusterMetrics(registry: Registry) {
  const registers = [registry];
  return {
    owned: new Gauge({ name: "fleet_cluster_owned_shards", help: "Shards this instance owns", registers }),
    handovers: new Counter({ name: "fleet_cluster_handovers_total", help: "Shards acquired, released or lost", labelNames: ["event"], registers }),
    forwarded: new Histogram({
      name: "fleet_cluster_forwarded_ask_seconds",
      help: "Envelopes sent over NATS to the owning instance, round trip",
      labelNames: ["outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
  };
}
