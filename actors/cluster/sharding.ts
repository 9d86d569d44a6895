// Addresses to shards, and shards to live members: a pure function every instance computes alike.
import type { Address } from "../protocol.ts";

/** FNV-1a, 32 bit: stable across processes and versions, which Math.random-seeded hashes are not. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const shardOf = (address: Address, shardCount: number): number => hash32(`${address.type}/${address.id}`) % shardCount;

/**
 * Rendezvous hashing with exact quotas: each shard goes to its highest-ranked member, then the
 * members over their quota hand the shards their under-quota peers rank highest to those peers.
 * Quotas differ by at most one, so counts are balanced within one shard of even; a new member
 * takes about 1/N of the shards and the others keep the rest.
 */
export function assignShards(members: readonly string[], shardCount: number): string[] {
  const sorted = [...new Set(members)].sort();
  if (sorted.length === 0) return [];
  const rank = (member: string, shard: number) => hash32(`${member}#${shard}`);
  const owners = Array.from({ length: shardCount }, (_, shard) => sorted.reduce((best, m) => (rank(m, shard) > rank(best, shard) ? m : best), sorted[0]!));
  const counts = new Map(sorted.map((m) => [m, 0]));
  for (const o of owners) counts.set(o, counts.get(o)! + 1);
  const base = Math.floor(shardCount / sorted.length);
  const extra = shardCount % sorted.length;
  // The members with the most shards of their own keep the one-extra quotas: fewer moves.
  const byLoad = [...sorted].sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : 1));
  const quota = new Map(byLoad.map((m, i) => [m, base + (i < extra ? 1 : 0)]));
  for (;;) {
    const under = sorted.filter((m) => counts.get(m)! < quota.get(m)!);
    if (under.length === 0) return owners;
    let move: { shard: number; to: string; score: number } | undefined;
    owners.forEach((owner, shard) => {
      if (counts.get(owner)! <= quota.get(owner)!) return;
      for (const to of under) {
        const score = rank(to, shard);
        if (!move || score > move.score) move = { shard, to, score };
      }
    });
    const from = owners[move!.shard]!;
    counts.set(from, counts.get(from)! - 1);
    counts.set(move!.to, counts.get(move!.to)! + 1);
    owners[move!.shard] = move!.to;
  }
}
