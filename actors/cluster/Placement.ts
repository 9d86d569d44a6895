// Shard ownership over NATS KV. Members keep a key alive in a bucket whose entries age out
// after the lease; shard owners are recorded in another bucket. Every instance computes the same
// balanced assignment from the live members, acquires what it should own, hands over what it
// should not, and takes over the shards of members whose lease ran out. The KV revision of the
// acquiring write is the shard's epoch, raised as a fence in Postgres before the shard is served.
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Sql } from "../../storage/database.ts";
import { raiseShardFence } from "../../storage/actorStore.ts";
import type { Logger } from "../logger.ts";
import { assignShards } from "./sharding.ts";

export interface PlacementOptions {
  nc: NatsConnection;
  sql: Sql;
  /** Namespaces the KV buckets: `<cluster>_members`, `<cluster>_shards`. */
  cluster: string;
  instanceId: string;
  shardCount: number;
  /** A member that has not renewed for this long is dead; its shards are taken over. */
  leaseMs: number;
  logger: Logger;
  /** Start serving a shard just acquired. */
  onAcquire(shard: number, epoch: number): Promise<void>;
  /** Handover: stop serving the shard and commit its actors; the key is released afterwards. */
  onRelease(shard: number): Promise<void>;
  /** Another instance took the shard (this one was presumed dead): drop it at once. */
  onLost(shard: number): Promise<void>;
  onChange?(event: "acquired" | "released" | "lost", shard: number): void;
}

interface ShardEntry {
  owner: string;
  revision: number;
}

const shardKey = (shard: number) => `shard.${shard}`;

export class Placement {
  readonly #owned = new Map<number, number>(); // shard -> epoch
  readonly #mirror = new Map<number, ShardEntry>();
  #live: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #watch: AsyncIterable<unknown> & { stop(): void } = { stop: () => {}, [Symbol.asyncIterator]: async function* () {} };

  private constructor(
    private readonly options: PlacementOptions,
    private readonly members: KV,
    private readonly shards: KV,
  ) {}

  static async start(options: PlacementOptions): Promise<Placement> {
    const kvm = new Kvm(options.nc);
    const members = await kvm.create(`${options.cluster}_members`, { history: 1, ttl: options.leaseMs });
    const shards = await kvm.create(`${options.cluster}_shards`, { history: 1 });
    const placement = new Placement(options, members, shards);
    await placement.#startWatch();
    await placement.tick();
    placement.#schedule();
    return placement;
  }

  owns(shard: number): boolean {
    return this.#owned.has(shard);
  }

  epochOf(shard: number): number {
    return this.#owned.get(shard) ?? 0;
  }

  ownedShards(): number[] {
    return [...this.#owned.keys()].sort((a, b) => a - b);
  }

  liveMembers(): readonly string[] {
    return this.#live;
  }

  /** The KV revision of the shard's owner entry as last seen here: the current owner's epoch. */
  ownerEpochOf(shard: number): number {
    return this.#mirror.get(shard)?.revision ?? 0;
  }

  /** One reconciliation round; rounds never overlap, a request during one runs right after. */
  tick(): Promise<void> {
    if (this.#ticking) {
      this.#again = true;
      return this.#ticking;
    }
    this.#ticking = (async () => {
      do {
        this.#again = false;
        try {
          await this.#reconcile();
        } catch (error) {
          this.options.logger.warn("placement round failed", { error: String(error) });
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  /** Graceful leave: hand every shard over, then drop out of the member list. */
  async leave(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    await Promise.all(this.ownedShards().map((s) => this.#release(s)));
    await this.members.delete(this.options.instanceId).catch(() => {});
    this.#watch.stop();
  }

  async #reconcile(): Promise<void> {
    const { instanceId: me, shardCount } = this.options;
    if (this.#stopped) return;
    await this.members.put(me, JSON.stringify({ at: Date.now() }));
    const live: string[] = [];
    for await (const key of await this.members.keys()) live.push(key);
    this.#live = live.sort();
    const desired = assignShards(this.#live, shardCount);
    const liveSet = new Set(this.#live);
    const work: Promise<void>[] = [];
    for (let shard = 0; shard < shardCount; shard++) {
      const entry = this.#mirror.get(shard);
      if (this.#owned.has(shard)) {
        if (entry && entry.owner !== me) work.push(this.#lose(shard));
        else if (desired[shard] !== me) work.push(this.#release(shard));
      } else if (desired[shard] === me) {
        if (!entry) work.push(this.#acquire(shard, () => this.shards.create(shardKey(shard), JSON.stringify({ owner: me }))));
        else if (entry.owner === me || !liveSet.has(entry.owner)) {
          // Ours from an earlier life, or its owner's lease ran out: take it over (CAS).
          work.push(this.#acquire(shard, () => this.shards.update(shardKey(shard), JSON.stringify({ owner: me }), entry.revision)));
        }
        // Otherwise a live owner still holds it and hands it over when it sees the new members.
      }
    }
    await Promise.all(work);
  }

  async #acquire(shard: number, write: () => Promise<number>): Promise<void> {
    let epoch: number;
    try {
      epoch = await write();
    } catch {
      return; // someone else got there first; the mirror will tell
    }
    try {
      await raiseShardFence(this.options.sql, shard, epoch);
    } catch (error) {
      // Serving without the fence could let a former owner overwrite us: give the shard back.
      this.options.logger.warn("cannot raise shard fence; releasing", { shard, error: String(error) });
      await this.shards.delete(shardKey(shard), { previousSeq: epoch }).catch(() => {});
      return;
    }
    this.#owned.set(shard, epoch);
    this.#mirror.set(shard, { owner: this.options.instanceId, revision: epoch });
    await this.options.onAcquire(shard, epoch);
    this.options.onChange?.("acquired", shard);
  }

  async #release(shard: number): Promise<void> {
    const epoch = this.#owned.get(shard);
    if (epoch === undefined) return;
    this.#owned.delete(shard);
    await this.options.onRelease(shard).catch((error) => this.options.logger.warn("shard release failed", { shard, error: String(error) }));
    const entry = this.#mirror.get(shard);
    await this.shards.delete(shardKey(shard), { previousSeq: entry?.revision ?? epoch }).catch(() => {});
    this.options.onChange?.("released", shard);
  }

  async #lose(shard: number): Promise<void> {
    if (!this.#owned.delete(shard)) return;
    this.options.logger.warn("shard taken over by another instance", { shard, owner: this.#mirror.get(shard)?.owner });
    await this.options.onLost(shard);
    this.options.onChange?.("lost", shard);
  }

  async #startWatch(): Promise<void> {
    const watch = await this.shards.watch({ key: "shard.>" });
    this.#watch = watch as never;
    let initial = true;
    const ready = new Promise<void>((resolve) => {
      void (async () => {
        for await (const e of watch) {
          const shard = Number(e.key.slice("shard.".length));
          if (e.operation === "PUT") this.#mirror.set(shard, { owner: (e.json() as { owner: string }).owner, revision: e.revision });
          else this.#mirror.delete(shard);
          if (initial && e.delta === 0) {
            initial = false;
            resolve();
          }
          if (!initial) {
            const mine = this.#owned.has(shard);
            const theirs = e.operation === "PUT" && this.#mirror.get(shard)?.owner !== this.options.instanceId;
            if ((mine && theirs) || (!mine && e.operation !== "PUT")) void this.tick();
          }
        }
      })();
      // An empty bucket sends no initial entries at all.
      setTimeout(resolve, 200);
    });
    await ready;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.tick().finally(() => this.#schedule()), Math.max(100, Math.floor(this.options.leaseMs / 4)));
  }
}
