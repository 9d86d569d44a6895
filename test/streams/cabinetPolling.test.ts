// Cabinet polling, one step at a time: the spread of phases, each cabinet's schedule and jitter on
// virtual time (rxjs TestScheduler), joining and leaving cabinets, polls that miss, and dropping
// unchanged reports.
import { describe, expect, it } from "vitest";
import { lastValueFrom, of, Subject, take, takeUntil, timer, toArray } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { cabinetPolling, hostedCabinets, phaseOf, pollEach, skipUnchangedReports, spreadOverInterval, type PollOutcome } from "../../streams/cabinetPolling.ts";
import { eventually } from "../support/harness.ts";
import { CabinetNotRespondingError, MqttUnavailableError } from "../../integrations/cabinet/index.ts";

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe("cabinet polling", () => {
  it("phaseOf - a thousand cabinets spread evenly over the interval, each always at the same phase", () => {
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 1000; i++) buckets[Math.floor(phaseOf(`CAB-${i}`, 10_000) / 1_000)]++;
    for (const n of buckets) {
      expect(n).toBeGreaterThan(60);
      expect(n).toBeLessThan(140);
    }
    expect(phaseOf("CAB-7", 10_000)).toBe(phaseOf("CAB-7", 10_000));
  });

  it("spreadOverInterval - first at the cabinet's phase, then every interval", () => {
    scheduler().run(({ expectObservable }) => {
      const phase = phaseOf("CAB-1", 100);
      const ticks = spreadOverInterval(of(["CAB-1"]), { intervalMs: 100, jitter: 0, tickMs: 1 }).pipe(take(3));
      expectObservable(ticks).toBe(`${phase}ms a 99ms b 99ms (c|)`, { a: "CAB-1", b: "CAB-1", c: "CAB-1" });
    });
  });

  it("spreadOverInterval - jitter moves each next poll within interval × (1 ± jitter)", () => {
    scheduler().run(({ expectObservable }) => {
      const extremes = [0, 1];
      let i = 0;
      const ticks = spreadOverInterval(of(["CAB-1"]), { intervalMs: 100, jitter: 0.2, tickMs: 1, random: () => extremes[i++ % 2]! }).pipe(take(3));
      const phase = phaseOf("CAB-1", 100);
      expectObservable(ticks).toBe(`${phase}ms a 79ms b 119ms (c|)`, { a: "CAB-1", b: "CAB-1", c: "CAB-1" });
    });
  });

  it("spreadOverInterval - one shared tick polls every cabinet due by then, each still once per interval", () => {
    const ids = Array.from({ length: 40 }, (_, i) => `CAB-${i}`);
    const polls = new Map<string, number[]>();
    const at = new Set<number>();
    const virtual = scheduler();
    virtual.run(({ flush }) => {
      spreadOverInterval(of(ids), { intervalMs: 1_000, jitter: 0, tickMs: 250 })
        .pipe(takeUntil(timer(3_500)))
        .subscribe((id) => {
          const now = virtual.now();
          at.add(now);
          polls.set(id, [...(polls.get(id) ?? []), now]);
        });
      flush();
    });
    expect([...at].every((t) => t % 250 === 0)).toBe(true);
    expect(at.size).toBeLessThanOrEqual(14);
    for (const id of ids) {
      // At the first tick at or after its phase, then every 1,000 ms.
      const first = Math.ceil(phaseOf(id, 1_000) / 250) * 250;
      expect(polls.get(id)).toEqual([0, 1, 2, 3].map((k) => first + k * 1_000).filter((t) => t < 3_500));
    }
  });

  it("spreadOverInterval - a cabinet that joins starts polling, one that leaves stops", () => {
    scheduler().run(({ cold, expectObservable }) => {
      // Sets of registered cabinets over time: A alone, then A and B, then B alone.
      const sets = cold<readonly string[]>("a 299ms b 299ms c", { a: ["A"], b: ["A", "B"], c: ["B"] });
      const due = spreadOverInterval(sets, { intervalMs: 100, jitter: 0, tickMs: 1 });
      expectObservable(due, "^ 999ms !").toBe(expectedFor(["A", [0, 600]], ["B", [300, 1000]]));
    });

    /** The marble of polls of each cabinet from its phase every 100 ms within [from, until). */
    function expectedFor(...cabinets: [string, [number, number]][]): string {
      const frames = new Map<number, string[]>();
      for (const [id, [from, until]] of cabinets) {
        const phase = phaseOf(id, 100);
        for (let t = from + phase; t < until; t += 100) frames.set(t, [...(frames.get(t) ?? []), id]);
      }
      let marble = "";
      let at = 0;
      for (const t of [...frames.keys()].sort((a, b) => a - b)) {
        const ids = frames.get(t)!;
        if (t > at) marble += `${t - at}ms `;
        marble += ids.length > 1 ? `(${ids.join("")}) ` : `${ids[0]} `;
        at = t + (ids.length > 1 ? ids.length + 2 : 1);
      }
      return marble.trim();
    }
  });

  it("skipUnchangedReports - unchanged reports wait for the heartbeat (the others are heard, with when they came); misses and the report after one always pass", () => {
    let now = 0;
    const report = (at: number, charge: number): PollOutcome => ({
      kind: "report",
      cabinetId: "A",
      polledAt: at,
      cells: [{ cell: 1, accumulator_id: "x", charge }],
    });
    const miss: PollOutcome = { kind: "missed", cabinetId: "A", polledAt: 0 };
    const heard: string[] = [];
    const skip = skipUnchangedReports(
      1_000,
      () => now,
      (id, at) => heard.push(`${id}@${at}`),
    );
    const passed: string[] = [];
    const feed = new Subject<PollOutcome>();
    feed.pipe(skip.operator).subscribe((o) => passed.push(`${o.kind}@${now}`));
    for (const [t, o] of [
      [0, report(0, 90)],
      [100, report(100, 90)], // unchanged: dropped
      [200, report(200, 91)], // changed
      [300, miss],
      [400, report(400, 91)], // first after a miss
      [500, report(500, 91)], // unchanged
      [1_500, report(1_500, 91)], // heartbeat
      [1_600, { kind: "skipped", cabinetId: "A", polledAt: 1_600, reason: "mqtt_unavailable" } as PollOutcome],
    ] as const) {
      now = t;
      feed.next(o);
    }
    expect(passed).toEqual(["report@0", "report@200", "missed@300", "report@400", "report@1500"]);
    expect(heard).toEqual(["A@100", "A@500"]);
  });

  it("skipUnchangedReports - a report the actor did not take (mid-unlock) is told again when it comes unchanged", () => {
    const now = 0;
    const report = (at: number): PollOutcome => ({ kind: "report", cabinetId: "A", polledAt: at, cells: [{ cell: 1, accumulator_id: "x", charge: 40 }] });
    const skip = skipUnchangedReports(60_000, () => now);
    const passed: number[] = [];
    const feed = new Subject<PollOutcome>();
    feed.pipe(skip.operator).subscribe((o) => passed.push(o.polledAt));
    const ignored = report(1);
    feed.next(ignored);
    skip.notTaken(ignored);
    feed.next(report(2)); // the same cells: the actor has not seen them yet
    feed.next(report(3)); // now a repeat
    skip.notTaken(ignored); // a late answer about an older report forgets nothing newer
    feed.next(report(4));
    expect(passed).toEqual([1, 2]);
  });

  it("pollEach - no answer is a missed poll, a broker outage is not the cabinet's fault, and the stream goes on", async () => {
    const poll = async (id: string) => {
      if (id === "silent") throw new CabinetNotRespondingError(id, "inventory", 10);
      if (id === "unreachable") throw new MqttUnavailableError();
      return { cells: [{ cell: 1, accumulator_id: null, charge: null }] };
    };
    const outcomes = await lastValueFrom(of("ok", "silent", "unreachable", "ok").pipe(pollEach(poll, { now: () => 42, concurrency: 2 }), toArray()));
    expect(outcomes.map((o) => `${o.cabinetId}:${o.kind}`).sort()).toEqual(["ok:report", "ok:report", "silent:missed", "unreachable:skipped"]);
    expect(outcomes.every((o) => o.polledAt === 42)).toBe(true);
  });

  it("hostedCabinets - lists again on refresh, keeps only the cabinets hosted here, survives a failed read", async () => {
    const refresh$ = new Subject<void>();
    let calls = 0;
    const list = async () => {
      calls++;
      if (calls === 2) throw new Error("database away");
      return calls === 1 ? ["A", "B"] : ["A", "B", "C"];
    };
    const errors: unknown[] = [];
    const seen: (readonly string[])[] = [];
    const sub = hostedCabinets(list, (id) => id !== "B", { refreshMs: 60_000, refresh$, onError: (e) => errors.push(e) }).subscribe((ids) => seen.push(ids));
    await new Promise((r) => setTimeout(r, 10));
    refresh$.next();
    await new Promise((r) => setTimeout(r, 10));
    refresh$.next();
    await new Promise((r) => setTimeout(r, 10));
    sub.unsubscribe();
    expect(seen).toEqual([["A"], ["A", "C"]]);
    expect(errors).toHaveLength(1);
  });

  it("cabinetPolling - a report the actor answers `applied: false` reaches it again on the next poll (regression: it was dropped as unchanged until the heartbeat)", async () => {
    const answers: boolean[] = [];
    const sub = cabinetPolling({
      cabinets$: of(["A"]),
      schedule: { intervalMs: 10, jitter: 0 },
      poll: async () => ({ cells: [{ cell: 1, accumulator_id: "x", charge: 40 }] }),
      now: () => Date.now(),
      concurrency: 1,
      heartbeatMs: 60_000,
      // The first two arrive mid-unlock and are ignored; the third is applied.
      tell: async (o) => {
        if (o.kind !== "report") return undefined;
        const applied = answers.length >= 2;
        answers.push(applied);
        return { applied };
      },
    }).subscribe();
    await eventually(() => answers.length >= 3);
    await new Promise((r) => setTimeout(r, 100));
    sub.unsubscribe();
    expect(answers).toEqual([false, false, true]);
  });

  it("cabinetPolling - the composed pipeline tells the actor what it needs and keeps going when a tell fails", async () => {
    const told: string[] = [];
    const failed: string[] = [];
    const observed: string[] = [];
    const sub = cabinetPolling({
      cabinets$: of(["A", "B"]),
      schedule: { intervalMs: 20, jitter: 0.1 },
      poll: async (id) => {
        if (id === "B") throw new CabinetNotRespondingError(id, "inventory", 1);
        return { cells: [] };
      },
      now: () => Date.now(),
      concurrency: 4,
      heartbeatMs: 60_000,
      observe: (o) => observed.push(`${o.cabinetId}:${o.kind}`),
      tell: async (o) => {
        if (o.kind === "missed" && failed.length === 0) {
          failed.push(o.cabinetId);
          throw new Error("actor unavailable");
        }
        told.push(`${o.cabinetId}:${o.kind}`);
        return undefined;
      },
      onTellError: () => {},
    }).subscribe();
    await new Promise((r) => setTimeout(r, 150));
    sub.unsubscribe();
    expect(failed).toEqual(["B"]);
    expect(told.filter((t) => t === "A:report")).toHaveLength(1); // unchanged after the first
    expect(told.filter((t) => t === "B:missed").length).toBeGreaterThan(1);
    expect(observed.filter((t) => t === "A:report").length).toBeGreaterThan(3);
  });
});
