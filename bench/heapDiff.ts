// What grew between two heap snapshots (bench:memory's BENCH_HEAP_SNAPSHOTS): self size and count
// by node type and name, largest first, divided by `per` (the actors measured).
//   npx tsx bench/heapDiff.ts /tmp/snap/krt-session-passivated.heapsnapshot /tmp/snap/krt-session-active.heapsnapshot 2000
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function totals(path: string): Map<string, { size: number; count: number }> {
  const s = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f)) as [number, number, number];
  const types = s.snapshot.meta.node_types[0];
  const byKey = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < s.nodes.length; i += fields.length) {
    const type = types[s.nodes[i + typeAt]!]!;
    // Strings by length class, not text: each id is its own text.
    const name =
      type === "string" || type === "concatenated string" || type === "sliced string"
        ? `len ${s.strings[s.nodes[i + nameAt]!]!.length}`
        : s.strings[s.nodes[i + nameAt]!]!;
    const key = `${type} ${name.slice(0, 80)}`;
    const t = byKey.get(key) ?? { size: 0, count: 0 };
    t.size += s.nodes[i + sizeAt]!;
    t.count++;
    byKey.set(key, t);
  }
  return byKey;
}

const [basePath, grownPath, perArg] = process.argv.slice(2);
if (!basePath || !grownPath) throw new Error("usage: heapDiff.ts <base.heapsnapshot> <grown.heapsnapshot> [per]");
const per = Number(perArg ?? 1);
const base = totals(basePath);
const grown = totals(grownPath);
const rows = [...grown]
  .map(([key, t]) => ({ key, bytes: (t.size - (base.get(key)?.size ?? 0)) / per, count: (t.count - (base.get(key)?.count ?? 0)) / per }))
  .sort((a, b) => b.bytes - a.bytes);
const total = rows.reduce((sum, r) => sum + r.bytes, 0);
console.log(`total ${total.toFixed(0)} bytes per ${per > 1 ? "actor" : "snapshot"}`);
for (const r of rows.slice(0, 40)) console.log(`${r.bytes.toFixed(0).padStart(8)} B ${r.count.toFixed(2).padStart(8)} x  ${r.key}`);
