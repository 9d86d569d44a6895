// Summarises a V8 sampling heap profile (`.heapprofile`, e.g. from bench:status's BENCH_PROMOTION):
// bytes sampled by allocating function, by the component allocating them, and by the nearest
// project function up the stack (who asked for them), in MB and, given the count of operations in
// the window, in bytes per operation.
//
//   npx tsx bench/heapSampleSummary.ts <file.heapprofile> [--ops=n] [--top=n]
import { readFileSync } from "node:fs";
import { componentOf, frameLabel, PRODUCT_FOLDERS, type CallFrame } from "./callFrames.ts";

interface SampledNode {
  callFrame: CallFrame;
  selfSize: number;
  children: SampledNode[];
}

const isProduct = (frame: CallFrame) => PRODUCT_FOLDERS.includes(componentOf(frame).split("/")[0] as never);

function main(): void {
  const argv = process.argv.slice(2);
  const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const file = argv.find((a) => !a.startsWith("--"));
  if (!file) throw new Error("usage: heapSampleSummary <file.heapprofile> [--ops=n] [--top=n]");
  const ops = Number(flag("ops") ?? 0);
  const topCount = Number(flag("top") ?? 25);
  const { head } = JSON.parse(readFileSync(file, "utf8")) as { head: SampledNode };

  const byFunction = new Map<string, number>();
  const byComponent = new Map<string, number>();
  const byProjectCaller = new Map<string, number>();
  const add = (m: Map<string, number>, key: string, bytes: number) => m.set(key, (m.get(key) ?? 0) + bytes);
  let total = 0;
  const walk = (node: SampledNode, projectCaller: string) => {
    const caller = isProduct(node.callFrame) ? frameLabel(node.callFrame) : projectCaller;
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(byFunction, frameLabel(node.callFrame), node.selfSize);
      add(byComponent, componentOf(node.callFrame), node.selfSize);
      add(byProjectCaller, caller, node.selfSize);
    }
    for (const child of node.children) walk(child, caller);
  };
  walk(head, "(no project frame)");

  const line = (label: string, bytes: number) =>
    `${(bytes / 1e6).toFixed(1).padStart(8)} MB ${((bytes / total) * 100).toFixed(1).padStart(5)}%${ops ? `${(bytes / ops).toFixed(0).padStart(8)} B/op` : ""}  ${label}`;
  const top = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [key, bytes] of [...m].sort((a, b) => b[1] - a[1]).slice(0, topCount)) console.log(line(key, bytes));
  };
  console.log(line("sampled in all", total));
  top("by component allocating", byComponent);
  top("by allocating function", byFunction);
  top("by the nearest project function up the stack", byProjectCaller);
}

main();
