// Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by component (project folder,
// npm package, node internals, GC), by function, and the inclusive time of chosen functions, in ms
// and, given the count of operations in the window, in µs per operation.
//
//   npx tsx bench/profileSummary.ts <file.cpuprofile> [--from=s] [--to=s] [--ops=n] [--top=n] [--inclusive=name,name]
//
// `--from`/`--to` choose a window in seconds from the profile's start (the timeline printed first
// shows where the load was); `--inclusive` lists functions whose time with their callees is shown.
import { readFileSync } from "node:fs";
import { componentOf, frameLabel, type CallFrame } from "./callFrames.ts";

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function parseArgs(argv: string[]): { file: string; from: number; to: number; ops: number; top: number; inclusive: string[]; stalls: number } {
  const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const file = argv.find((a) => !a.startsWith("--"));
  if (!file) throw new Error("usage: profileSummary <file.cpuprofile> [--from=s] [--to=s] [--ops=n] [--top=n] [--inclusive=a,b]");
  return {
    file,
    from: Number(flag("from") ?? 0),
    to: Number(flag("to") ?? Number.POSITIVE_INFINITY),
    ops: Number(flag("ops") ?? 0),
    top: Number(flag("top") ?? 25),
    inclusive: (flag("inclusive") ?? "").split(",").filter(Boolean),
    stalls: Number(flag("stalls") ?? 0),
  };
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const profile = JSON.parse(readFileSync(args.file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  /** The component of the nearest frame up the stack that is not node's own or native code. */
  const callerComponent = (leaf: number): string => {
    const own = componentOf(byId.get(leaf)!.callFrame);
    for (let at: number | undefined = leaf; at !== undefined; at = parent.get(at)) {
      const component = componentOf(byId.get(at)!.callFrame);
      if (component === "(garbage collector)" || component === "(program)") return component;
      if (!component.startsWith("node:") && component !== "(native)" && component !== "(root)") return component;
    }
    return own;
  };

  // Timeline: busy share per second, to choose the window.
  const perSecond: { busy: number; all: number }[] = [];
  const selfUs = new Map<number, number>();
  let t = 0;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    const node = byId.get(profile.samples[i]!)!;
    const second = Math.floor(t / 1e6);
    perSecond[second] ??= { busy: 0, all: 0 };
    const dt = profile.timeDeltas[i + 1] ?? 0; // a sample stands for the time until the next one
    perSecond[second].all += dt;
    if (node.callFrame.functionName !== "(idle)") perSecond[second].busy += dt;
    if (t / 1e6 < args.from || t / 1e6 >= args.to) continue;
    windowUs += dt;
    selfUs.set(node.id, (selfUs.get(node.id) ?? 0) + dt);
  }
  console.log(`timeline (busy share per second): ${perSecond.map((s, i) => `${i}:${Math.round((100 * s.busy) / Math.max(1, s.all))}`).join(" ")}`);

  const busyUs = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName !== "(idle)").reduce((a, [, us]) => a + us, 0);
  const per = (us: number) => (args.ops > 0 ? ` ${(us / args.ops).toFixed(1).padStart(8)} µs/op` : "");
  const pct = (us: number) => `${((100 * us) / Math.max(1, busyUs)).toFixed(1).padStart(5)}%`;
  const line = (label: string, us: number) => `${(us / 1000).toFixed(1).padStart(9)} ms ${pct(us)}${per(us)}  ${label}`;
  console.log(`window ${(windowUs / 1e6).toFixed(1)} s, busy ${(busyUs / 1000).toFixed(0)} ms${args.ops > 0 ? `, ${args.ops} ops` : ""}`);

  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const byComponent = new Map<string, number>();
  const byCaller = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id)!;
    if (callFrame.functionName === "(idle)") continue;
    add(byComponent, componentOf(callFrame), us);
    add(byCaller, callerComponent(id), us);
    add(byFunction, frameLabel(callFrame), us);
  }
  const top = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, args.top)) console.log(line(k, us));
  };
  top("self time by component", byComponent);
  top("time by the nearest package or project folder up the stack (node internals and native code count for their caller)", byCaller);
  top("self time by function", byFunction);

  if (args.stalls > 0) {
    // Stalls: runs of busy samples (no idle between) longer than `stalls` ms; each with its top callers.
    console.log(`\nbusy stretches over ${args.stalls} ms in the window (what delays every request waiting behind them)`);
    let at = 0;
    let run: { start: number; us: number; by: Map<string, number> } | undefined;
    const flush = () => {
      if (run && run.us >= args.stalls * 1000) {
        const top3 = [...run.by]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 4)
          .map(([k, us]) => `${k} ${(us / 1000).toFixed(0)}`);
        console.log(`  at ${(run.start / 1e6).toFixed(2)} s: ${(run.us / 1000).toFixed(0)} ms busy: ${top3.join(", ")}`);
      }
      run = undefined;
    };
    for (let i = 0; i < profile.samples.length; i++) {
      at += profile.timeDeltas[i]!;
      if (at / 1e6 < args.from || at / 1e6 >= args.to) continue;
      const id = profile.samples[i]!;
      const dt = profile.timeDeltas[i + 1] ?? 0;
      if (byId.get(id)!.callFrame.functionName === "(idle)") {
        flush();
        continue;
      }
      run ??= { start: at, us: 0, by: new Map() };
      run.us += dt;
      add(run.by, callerComponent(id), dt);
    }
    flush();
  }

  if (args.inclusive.length > 0) {
    // Inclusive: a sample counts once for a name if any frame of its stack has that name.
    const inclusive = new Map<string, number>();
    for (const [id, us] of selfUs) {
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const name = byId.get(at)!.callFrame.functionName;
        if (args.inclusive.includes(name)) seen.add(name);
      }
      for (const name of seen) add(inclusive, name, us);
    }
    top("inclusive time of chosen functions", inclusive);
  }
}

main();
