// Shard ownership over NATS KV. Members keep a key alive in a bucket whose entries age out
// after the lease (a heartbeat of its own, so a slow handover never lets the lease lapse); shard
// owners are recorded in another bucket. Every instance computes the same
// balanced assignment from the live members, acquires what it should own, hands over what it
// should not, and takes over the shards of members whose lease ran out. The KV revision of the
// acquiring write is the shard's epoch, raised as a fence in Postgres before the shard is served.
// The local mirror of the owners follows a KV watch; whenever it may have missed changes (this
// instance was paused or starved past its lease, NATS reconnected, a compare-and-set failed, the
// watch ended) the entries are read again, so a stale mirror can delay a handover but never stall it.
import { JetStreamApiError, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvOptions } from "@nats-io/kv";
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
  /** Handover of the shard held at `epoch`: stop serving it and commit its actors; the key is released afterwards. */
  onRelease(shard: number, epoch: number): Promise<void>;
  /** Another instance took the shard (this one was presumed dead): drop it at once. */
  onLost(shard: number): Promise<void>;
  onChange?(event: "acquired" | "released" | "lost", shard: number): void;
}

/** The last known owner entry of a shard; `owner` is null once the key was deleted (released). */
interface ShardEntry {
  owner: string | null;
  revision: number;
}

interface KvRecord {
  operation: string;
  revision: number;
  json<T>(): T;
}

const shardKey = (shard: number) => `shard.${shard}`;

export class Placement {
  readonly #owned = new Map<number, number>(); // shard -> epoch
  readonly #mirror = new Map<number, ShardEntry>();
  #live: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = true;
  #renewal: Promise<void> = Promise.resolve();
  #ticking: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #lastBeatAt = Date.now();
  #rereadAll = false;
  #watch: { stop(): void } = { stop: () => {} };

  private constructor(
    private readonly options: PlacementOptions,
    private readonly members: KV,
    private readonly shards: KV,
    private readonly jsm: JetStreamManager,
  ) {}

  static async start(options: PlacementOptions): Promise<Placement> {
    const kvm = new Kvm(options.nc);
    const members = await createBucket(kvm, `${options.cluster}_members`, { history: 1, ttl: options.leaseMs });
    const shards = await createBucket(kvm, `${options.cluster}_shards`, { history: 1 });
    const placement = new Placement(options, members, shards, await jetstreamManager(options.nc));
    await placement.#startWatch();
    placement.#rereadAfterReconnects();
    await placement.#beat();
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

  /** Shards by owner as last seen here (the inspector's cluster view). */
  owners(): Record<string, number[]> {
    const owners: Record<string, number[]> = {};
    for (const [shard, entry] of [...this.#mirror].sort((a, b) => a[0] - b[0])) {
      if (!entry.owner) continue;
      owners[entry.owner] ??= [];
      owners[entry.owner]!.push(shard);
    }
    return owners;
  }

  /** The shard's owner as last seen here. */
  ownerOf(shard: number): string | undefined {
    return this.#mirror.get(shard)?.owner ?? undefined;
  }

  liveMembers(): readonly string[] {
    return this.#live;
  }

  /** The KV revision of the shard's owner entry as last seen here: the current owner's epoch. */
  ownerEpochOf(shard: number): number {
    const entry = this.#mirror.get(shard);
    return entry?.owner ? entry.revision : 0;
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
    this.#beating = false;
    clearTimeout(this.#heartbeat);
    await this.#renewal; // a renewal landing after the delete would list this instance for a lease
    await this.members.delete(this.options.instanceId).catch(() => {});
    this.#watch.stop();
  }

  async #reconcile(): Promise<void> {
    const { instanceId: me, shardCount } = this.options;
    if (this.#stopped) return;
    if (this.#rereadAll) {
      this.#rereadAll = false;
      await Promise.all(Array.from({ length: shardCount }, (_, shard) => this.#reread(shard)));
    }
    this.#live = await this.#readMembers();
    const desired = assignShards(this.#live, shardCount);
    const liveSet = new Set(this.#live);
    const work: Promise<void>[] = [];
    for (let shard = 0; shard < shardCount; shard++) {
      const entry = this.#mirror.get(shard);
      const epoch = this.#owned.get(shard);
      if (epoch !== undefined) {
        if (this.#writtenSince(entry, epoch)) work.push(this.#lose(shard));
        else if (desired[shard] !== me) work.push(this.#release(shard));
      } else if (desired[shard] === me) {
        if (!entry?.owner) work.push(this.#acquire(shard, () => this.shards.create(shardKey(shard), JSON.stringify({ owner: me }))));
        else if (entry.owner === me || !liveSet.has(entry.owner)) {
          // Ours from an earlier life, or its owner's lease ran out: take it over (CAS).
          work.push(this.#acquire(shard, () => this.shards.update(shardKey(shard), JSON.stringify({ owner: me }), entry.revision)));
        }
        // Otherwise a live owner still holds it and hands it over when it sees the new members.
      }
    }
    await Promise.all(work);
  }

  /**
   * Whether someone wrote the shard's key after we took it at `epoch`: a takeover, or a takeover
   * and a release (a paused member may first see the key already deleted). Either way it is not
   * ours any more, even if the assignment gives it back: it must be acquired again, at a new epoch.
   */
  #writtenSince(entry: ShardEntry | undefined, epoch: number): boolean {
    return entry === undefined || entry.revision > epoch || entry.owner !== this.options.instanceId;
  }

  async #acquire(shard: number, write: () => Promise<number>): Promise<void> {
    let epoch: number;
    try {
      epoch = await write();
    } catch {
      // Someone else got there first, or the mirror was stale: look again before the next round.
      await this.#reread(shard);
      return;
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
    await this.options.onRelease(shard, epoch).catch((error) => this.options.logger.warn("shard release failed", { shard, error: String(error) }));
    // A key left behind would keep its shard waiting for a handover that already happened.
    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = this.#mirror.get(shard);
      if (entry && entry.owner !== this.options.instanceId) break;
      const deleted = await this.shards.delete(shardKey(shard), { previousSeq: entry?.revision ?? epoch }).then(
        () => true,
        () => false,
      );
      if (deleted) break;
      await this.#reread(shard);
    }
    this.options.onChange?.("released", shard);
  }

  async #lose(shard: number): Promise<void> {
    if (!this.#owned.delete(shard)) return;
    this.options.logger.warn("shard taken over by another instance", { shard, owner: this.#mirror.get(shard)?.owner });
    await this.options.onLost(shard);
    this.options.onChange?.("lost", shard);
  }

  /**
   * The members whose key has not aged out. Read from the stream's subjects and the last entry of
   * each: `KV.keys()` can keep waiting for as long as members keep renewing their keys.
   */
  async #readMembers(): Promise<string[]> {
    const stream = `KV_${this.options.cluster}_members`;
    const prefix = `$KV.${this.options.cluster}_members.`;
    const info = await this.jsm.streams.info(stream, { subjects_filter: ">" });
    const keys = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
    const entries = await Promise.all(keys.map((key) => this.members.get(key)));
    return keys.filter((_, i) => entries[i]?.operation === "PUT").sort();
  }

  /** Renews this member's key; a gap longer than the lease means others may have taken shards. */
  async #beat(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastBeatAt > this.options.leaseMs) {
      this.#rereadAll = true;
      void this.tick();
    }
    this.#lastBeatAt = now;
    this.#renewal = this.members.put(this.options.instanceId, JSON.stringify({ at: now })).then(
      () => {},
      (error) => this.options.logger.warn("cannot renew cluster membership", { error: String(error) }),
    );
    await this.#renewal;
    if (this.#beating) this.#heartbeat = setTimeout(() => void this.#beat(), Math.max(100, Math.floor(this.options.leaseMs / 4)));
  }

  /** Reads a shard's owner entry straight from the bucket. */
  async #reread(shard: number): Promise<void> {
    try {
      const record = await this.shards.get(shardKey(shard));
      if (record) this.#see(shard, record);
      else this.#mirror.delete(shard);
    } catch (error) {
      this.options.logger.warn("cannot read shard owner", { shard, error: String(error) });
    }
  }

  /** Records an owner entry unless a newer one is already known (watch and reads may interleave). */
  #see(shard: number, record: KvRecord): void {
    const known = this.#mirror.get(shard);
    if (known && known.revision > record.revision) return;
    const owner = record.operation === "PUT" ? record.json<{ owner: string }>().owner : null;
    this.#mirror.set(shard, { owner, revision: record.revision });
  }

  /**
   * Follows the owner bucket. It starts with every key's latest entry, so a watch started again
   * after the previous one ended catches up on everything it missed.
   */
  async #startWatch(): Promise<void> {
    const watch = await this.shards.watch({ key: "shard.>" });
    this.#watch = watch;
    let initial = true;
    const ready = new Promise<void>((resolve) => {
      void (async () => {
        for await (const e of watch) {
          const shard = Number(e.key.slice("shard.".length));
          this.#see(shard, e);
          if (initial && e.delta === 0) {
            initial = false;
            resolve();
          }
          if (!initial) {
            const mine = this.#owned.has(shard);
            const owner = this.#mirror.get(shard)?.owner;
            if ((mine && owner !== this.options.instanceId) || (!mine && !owner)) void this.tick();
          }
        }
        this.#restartWatch();
      })();
      // An empty bucket sends no initial entries at all.
      setTimeout(() => {
        initial = false;
        resolve();
      }, 200);
    });
    await ready;
  }

  #restartWatch(): void {
    if (this.#stopped) return;
    this.options.logger.warn("shard watch ended; starting it again");
    this.#rereadAll = true;
    this.#startWatch().catch((error) => {
      this.options.logger.warn("cannot restart shard watch", { error: String(error) });
      setTimeout(() => this.#restartWatch(), this.options.leaseMs / 4);
    });
  }

  /** Pushed entries sent while disconnected are gone: read everything again after a reconnect. */
  #rereadAfterReconnects(): void {
    void (async () => {
      for await (const s of this.options.nc.status()) {
        if (this.#stopped) return;
        if (s.type === "reconnect") {
          this.#rereadAll = true;
          void this.tick();
        }
      }
    })();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.tick().finally(() => this.#schedule()), Math.max(100, Math.floor(this.options.leaseMs / 4)));
  }
}

/** JetStream's answer to a stream created while another client creates the same one. */
const SUBJECTS_OVERLAP = 10065;

/**
 * Creates (or binds to) a KV bucket. Members starting at the same moment race to create it, and
 * the loser of the race is told its subjects overlap with the stream the winner is adding; once
 * that one exists, the same create succeeds (it is idempotent for an equal configuration).
 */
export async function createBucket(kvm: Kvm, name: string, options: Partial<KvOptions>): Promise<KV> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await kvm.create(name, options);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === SUBJECTS_OVERLAP) || attempt >= 10) throw error;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}
