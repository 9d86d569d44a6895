// Each step of the status stream alone, on virtual time (rxjs TestScheduler marbles).
import { describe, expect, it } from "vitest";
import { from, lastValueFrom, tap, toArray } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { coalesce } from "../../../streams/status/coalesce.ts";
import { decodeStatuses, dropRepeats, dropStale, keepCategories, resolveLicences, toConnectivity } from "../../../streams/status/statusOperators.ts";
import { keepInRegion } from "../../../streams/status/keepInRegion.ts";
import { tellSessions } from "../../../streams/status/tellSessions.ts";
import type { ConnectivityChange, DriverStatus, LicencedStatus, Settle, StatusMessage, StatusOutcome } from "../../../streams/status/statusMessages.ts";
import { statusStream } from "../../../streams/status/statusStream.ts";
import { pointIn } from "../../../integrations/trackstory/index.ts";

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Settle handles that record what happened to each message. */
function ledger() {
  const acked: number[] = [];
  const working: number[] = [];
  const rejected: number[] = [];
  const outcomes: StatusOutcome[] = [];
  return {
    acked,
    working,
    rejected,
    outcomes,
    settle: (seq: number): Settle & { seq: number } => ({
      seq,
      ack: () => void acked.push(seq),
      working: () => void working.push(seq),
      reject: () => void rejected.push(seq),
    }),
    count: (o: StatusOutcome, n = 1) => {
      for (let i = 0; i < n; i++) outcomes.push(o);
    },
  };
}

/** The ledger's number of the message a value came from. */
const seqOf = (v: { settle: Settle }) => (v.settle as Settle & { seq: number }).seq;

const change = (l: ReturnType<typeof ledger>, seq: number, driver: string, connected: boolean, at: number): ConnectivityChange => ({
  driver: `p/${driver}`,
  licence: `lic-${driver}`,
  park_id: "p",
  driver_id: driver,
  connected,
  at,
  settle: l.settle(seq),
});
/** The status as the region filter passes on that of a driver outside the regions. */
const outside = (s: LicencedStatus): LicencedStatus => ({ ...s, outOfScope: "region_filtered" });
/** An online status of driver `d` in park `p`, licence resolved, as the region filter receives it. */
const licenced = (l: ReturnType<typeof ledger>, d: string, seq: number): LicencedStatus => ({
  driver: `p/${d}`,
  park_id: "p",
  driver_id: d,
  licence: d,
  status: "online",
  at: seq,
  settle: l.settle(seq),
});

describe("coalesce", () => {
  it("many flips inside the window let only the latest go, one window after the last", () => {
    const l = ledger();
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1), b: change(l, 2, "d1", false, 2), c: change(l, 3, "d1", true, 3) };
      const out = cold("a 99ms b 99ms c", values).pipe(
        coalesce({ windowMs: 500, maxDelayMs: 5_000, keyOf: (c) => c.driver_id, onSuperseded: (c) => c.settle.ack() }),
      );
      // c arrives at 200 ms; released at 700 ms.
      expectObservable(out).toBe("700ms c", values);
    });
    expect(l.acked).toEqual([1, 2]);
  });

  it("a driver flapping without pause is still released within the maximum delay", () => {
    const l = ledger();
    scheduler().run(({ cold, expectObservable }) => {
      const flips: Record<string, ConnectivityChange> = {};
      const keys = "abcdefghijklmnopqrst".split("");
      keys.forEach((key, i) => {
        flips[key] = change(l, i, "d1", i % 2 === 0, i);
      });
      // A value every 100 ms, window 300 ms, max delay 1000 ms: released at 1000 ms with what came then.
      const marble = keys.join(" 99ms ");
      const out = cold(marble, flips).pipe(coalesce({ windowMs: 300, maxDelayMs: 1_000, keyOf: (c) => c.driver_id }));
      expectObservable(out, "^ 1500ms !").toBe("1000ms k", flips);
    });
  });

  it("drivers are held and released independently", () => {
    const l = ledger();
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1), b: change(l, 2, "d2", true, 1), c: change(l, 3, "d1", false, 2) };
      const out = cold("a 9ms b 9ms c", values).pipe(coalesce({ windowMs: 100, maxDelayMs: 1_000, keyOf: (c) => c.driver_id }));
      expectObservable(out).toBe("110ms b 9ms c", values);
    });
  });

  it("with a resolution, values due within one slice leave together at its end, never early", () => {
    const l = ledger();
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1), b: change(l, 2, "d2", true, 1), c: change(l, 3, "d3", false, 2) };
      // Due at 100, 103 and 111 ms; slices of 10 ms: 100 -> 100, 103 -> 110, 111 -> 120.
      const out = cold("a 2ms b 7ms c", values).pipe(coalesce({ windowMs: 100, maxDelayMs: 1_000, resolutionMs: 10, keyOf: (c) => c.driver_id }));
      expectObservable(out).toBe("100ms a 9ms b 9ms c", values);
    });
  });

  it("with maxHeld, a new driver beyond it releases the driver held longest at once; the others keep their windows", () => {
    const l = ledger();
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1), b: change(l, 2, "d2", true, 1), c: change(l, 3, "d1", false, 2), d: change(l, 4, "d3", true, 1) };
      // d1 and d2 held (two at most); d1's newer value c replaces a; d3 at 20 ms pushes d1 (held
      // since 0 ms) out with its latest value; d2 and d3 leave when their windows end.
      const out = cold("a 9ms b 4ms c 4ms d", values).pipe(
        coalesce({ windowMs: 100, maxDelayMs: 1_000, maxHeld: 2, keyOf: (c) => c.driver_id, onSuperseded: (c) => c.settle.ack() }),
      );
      expectObservable(out).toBe("20ms c 89ms b 9ms d", values);
    });
    expect(l.acked).toEqual([1]);
  });

  it("a window of an earlier holding of the same driver never cuts a later holding short", () => {
    const l = ledger();
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1), b: change(l, 2, "d1", false, 2), c: change(l, 3, "d1", true, 3), d: change(l, 4, "d1", false, 4) };
      // a, b: one holding, released by the max delay at 150 ms while b's window (to 200 ms) is
      // still queued. c starts a second holding at 160 ms and d renews it at 170 ms: it leaves one
      // window after d (270 ms), not at 200 ms with the first holding's stale deadline.
      const out = cold("a 99ms b 59ms c 9ms d", values).pipe(coalesce({ windowMs: 100, maxDelayMs: 150, keyOf: (c) => c.driver_id }));
      expectObservable(out).toBe("150ms b 119ms d", values);
    });
  });

  it("what is held when the source ends is released at once", () => {
    const l = ledger();
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1) };
      expectObservable(cold("a 5ms |", values).pipe(coalesce({ windowMs: 100, maxDelayMs: 1_000, keyOf: (c) => c.driver_id }))).toBe("6ms (a|)", values);
    });
  });
});

describe("per-driver order and repeats", () => {
  it("dropStale - an older status arriving after a newer one is dropped and acknowledged", async () => {
    const l = ledger();
    const input = [
      change(l, 1, "d1", true, 10),
      change(l, 2, "d1", false, 5),
      change(l, 3, "d2", false, 5),
      change(l, 4, "d1", false, 10),
      change(l, 5, "d1", false, 11),
    ];
    const out = await lastValueFrom(from(input).pipe(dropStale(l.count), toArray()));
    expect(out.map(seqOf)).toEqual([1, 3, 5]);
    expect(l.acked).toEqual([2, 4]);
    expect(l.outcomes).toEqual(["stale", "stale"]);
  });

  it("dropRepeats - online to busy (both connected) is dropped, a real change passes", async () => {
    const l = ledger();
    const input = [change(l, 1, "d1", true, 1), change(l, 2, "d1", true, 2), change(l, 3, "d1", false, 3), change(l, 4, "d2", true, 1)];
    const out = await lastValueFrom(from(input).pipe(dropRepeats(l.count), toArray()));
    expect(out.map(seqOf)).toEqual([1, 3, 4]);
    expect(l.acked).toEqual([2]);
  });

  it("toConnectivity - online and busy are connected, offline is not", async () => {
    const l = ledger();
    const statuses = (["online", "busy", "offline"] as const).map(
      (status, i): LicencedStatus => ({ driver: "p/d", park_id: "p", driver_id: "d", licence: "l", status, at: i, settle: l.settle(i) }),
    );
    const out = await lastValueFrom(from(statuses).pipe(toConnectivity(), toArray()));
    expect(out.map((c) => c.connected)).toEqual([true, true, false]);
  });
});

describe("decode, licence, filters", () => {
  const encode = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
  const message = (l: ReturnType<typeof ledger>, seq: number, body: unknown): StatusMessage => ({ seq, data: encode(body), settle: l.settle(seq) });

  it("decodeStatuses - malformed messages are dead-lettered with the reason and acknowledged; good ones pass", async () => {
    const l = ledger();
    const letters: { seq: number; reason: string }[] = [];
    const input = [
      message(l, 1, { park_id: "p", driver_id: "d", status: "online", updated_at: "2026-01-01T10:00:00Z" }),
      message(l, 2, "{not json"),
      message(l, 3, { park_id: "p", driver_id: "d", status: "sleeping", updated_at: "2026-01-01T10:00:00Z" }),
      message(l, 4, { park_id: "p", status: "online", updated_at: "yesterday" }),
      message(l, 5, { park_id: "p", driver_id: "d", status: "offline", updated_at: "2026-01-01T10:00:01.250+03:00", extra: true }),
      // "p/q" + "d" would share its driver key with "p" + "q/d".
      message(l, 6, { park_id: "p/q", driver_id: "d", status: "online", updated_at: "2026-01-01T10:00:00Z" }),
    ];
    const out = await lastValueFrom(
      from(input).pipe(
        decodeStatuses(async (m, reason) => void letters.push({ seq: m.seq, reason }), l.count),
        toArray(),
      ),
    );
    expect(out.map((s) => [seqOf(s), s.status, s.at])).toEqual([
      [1, "online", Date.parse("2026-01-01T10:00:00Z")],
      [5, "offline", Date.parse("2026-01-01T07:00:01.250Z")],
    ]);
    expect(letters.map((x) => x.seq)).toEqual([2, 3, 4, 6]);
    expect(letters[3]!.reason).toContain("park_id");
    expect(letters[0]!.reason).toBe("not JSON");
    expect(letters[1]!.reason).toContain("status");
    expect(letters[2]!.reason).toContain("driver_id");
    expect(letters[2]!.reason).toContain("updated_at");
    expect(l.acked.sort()).toEqual([2, 3, 4, 6]);
  });

  it("decodeStatuses - a status dated beyond the clock skew (2099) or older than the stream keeps is dead-lettered; the driver's real statuses pass", async () => {
    const l = ledger();
    const letters: { seq: number; reason: string }[] = [];
    const now = Date.parse("2026-12-04T10:00:00Z");
    const freshness = { now: () => now, maxFutureMs: 300_000, maxAgeMs: 86_400_000 };
    const input = [
      message(l, 1, { park_id: "p", driver_id: "d", status: "online", updated_at: "2099-01-01T00:00:00Z" }),
      message(l, 2, { park_id: "p", driver_id: "d", status: "offline", updated_at: "2026-12-04T09:59:00Z" }),
      message(l, 3, { park_id: "p", driver_id: "d", status: "online", updated_at: "2026-12-04T10:04:59Z" }), // within the skew
      message(l, 4, { park_id: "p", driver_id: "d", status: "offline", updated_at: "2026-12-02T10:00:00Z" }),
    ];
    const out = await lastValueFrom(
      from(input).pipe(
        decodeStatuses(async (m, reason) => void letters.push({ seq: m.seq, reason }), l.count, freshness),
        toArray(),
      ),
    );
    expect(out.map((s) => [seqOf(s), s.status])).toEqual([
      [2, "offline"],
      [3, "online"],
    ]);
    expect(letters).toEqual([
      { seq: 1, reason: "updated_at: more than 300000 ms in the future" },
      { seq: 4, reason: "updated_at: older than the stream keeps (86400000 ms)" },
    ]);
  });

  it("decodeStatuses - a message whose dead letter cannot be written stays unacknowledged (it comes back)", async () => {
    const l = ledger();
    await lastValueFrom(
      from([message(l, 1, "nope")]).pipe(
        decodeStatuses(() => Promise.reject(new Error("nats down")), l.count),
        toArray(),
      ),
    );
    expect(l.acked).toEqual([]);
  });

  it("resolveLicences - an unknown profile syncs the cache once and passes if it appeared, else it is dropped", async () => {
    const l = ledger();
    const known = new Map([["p/d1", "lic-1"]]);
    let refreshes = 0;
    const profiles = {
      licenceOf: (driver: string) => known.get(driver),
      refreshNow: async () => {
        refreshes++;
        known.set("p/d2", "lic-2");
      },
    };
    const statuses = ["d1", "d2", "d3", "d3"].map((d, i) => ({
      driver: `p/${d}`,
      park_id: "p",
      driver_id: d,
      status: "online" as const,
      at: i,
      settle: l.settle(i),
    }));
    const out = await lastValueFrom(from(statuses).pipe(resolveLicences(profiles, l.count, { missRefreshMs: 60_000, now: () => 0 }), toArray()));
    expect(out.map((s) => s.licence).sort()).toEqual(["lic-1", "lic-2"]);
    expect(refreshes).toBe(1);
    expect(l.acked.sort()).toEqual([2, 3]);
    expect(l.outcomes).toEqual(["unknown_driver", "unknown_driver"]);
  });

  it("keepCategories - only drivers with a configured category are connected; another's online goes on as a disconnect, an offline always passes", async () => {
    const l = ledger();
    const categories: Record<string, string[]> = { d1: ["econom"], d2: ["cargo"], d3: ["cargo", "comfort_plus"] };
    const statuses = (["d1", "d2", "d3", "d4", "d2"] as const).map(
      (d, i): LicencedStatus => ({
        driver: `p/${d}`,
        park_id: "p",
        driver_id: d,
        licence: d,
        status: i === 4 ? "offline" : "online",
        at: i,
        settle: l.settle(i),
      }),
    );
    const out = await lastValueFrom(
      from(statuses).pipe(
        keepCategories((driver) => categories[driver.slice(2)] ?? [], ["econom", "comfort", "comfort_plus"]),
        toConnectivity(),
        toArray(),
      ),
    );
    // Before: d2 and d4 (a driver who lost his category while online) were dropped, so KRT kept them connected.
    expect(out.map((c) => [c.driver_id, c.connected, c.outOfScope])).toEqual([
      ["d1", true, undefined],
      ["d2", false, "category_filtered"],
      ["d3", true, undefined],
      ["d4", false, "category_filtered"],
      ["d2", false, undefined],
    ]);
    expect(l.acked).toEqual([]);
  });

  it("keepInRegion - connects Moscow, disconnects the others; statuses arriving during a lookup form the next batch; while trackstory is down it waits instead of dropping", () => {
    const l = ledger();
    const moscow = pointIn("moscow");
    const spb = pointIn("saint_petersburg");
    const where: Record<string, { lat: number; lon: number }> = { d1: moscow, d2: spb, d3: moscow };
    const batches: string[][] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: licenced(l, "d1", 1), b: licenced(l, "d2", 2), c: licenced(l, "d3", 3), x: licenced(l, "nowhere", 4) };
      const lookup = (drivers: readonly { park_id: string; driver_id: string }[]) => {
        batches.push(drivers.map((d) => d.driver_id));
        if (batches.length === 1) return cold<Map<string, { lat: number; lon: number }>>("#", {}, new Error("trackstory down"));
        return cold("-(m|)", {
          m: new Map(drivers.flatMap((d) => (where[d.driver_id] ? [[`${d.park_id}/${d.driver_id}`, where[d.driver_id]!] as const] : []))),
        });
      };
      const out = cold("a b c x", values).pipe(keepInRegion(lookup, { regions: ["moscow"], concurrency: 1, batchSize: 100, retryBaseMs: 50, retryMaxMs: 50 }));
      // a's lookup fails at once and is retried at 50 ms, answered at 51; b, c, x waited and go
      // together at 52, b (Saint Petersburg) and x (no position) as disconnects.
      expectObservable(out).toBe("51ms a (BcX)", { ...values, B: outside(values.b), X: outside(values.x) });
    });
    expect(batches).toEqual([["d1"], ["d1"], ["d2", "d3", "nowhere"]]);
    expect(l.working).toEqual([1]);
    expect(l.acked).toEqual([]);
  });

  it("keepInRegion - a driver found inside passes without lookups for the TTL; one found outside is looked up every time", () => {
    const l = ledger();
    const where: Record<string, { lat: number; lon: number }> = { in: pointIn("moscow"), out: pointIn("saint_petersburg") };
    const lookups: string[][] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: licenced(l, "in", 1), b: licenced(l, "out", 2), c: licenced(l, "in", 3), d: licenced(l, "out", 4), e: licenced(l, "in", 5) };
      const lookup = (drivers: readonly { park_id: string; driver_id: string }[]) => {
        lookups.push(drivers.map((d) => d.driver_id));
        return cold("(m|)", { m: new Map(drivers.map((d) => [`${d.park_id}/${d.driver_id}`, where[d.driver_id]!] as const)) });
      };
      // TTL 100 ms: c (50 ms) passes on the memory; e (150 ms) is looked up again.
      const out = cold("(ab) 46ms (cd) 96ms e", values).pipe(
        keepInRegion(lookup, { regions: ["moscow"], concurrency: 1, batchSize: 100, retryBaseMs: 1, retryMaxMs: 1, insideTtlMs: 100 }),
      );
      expectObservable(out).toBe("(aB) 46ms (cD) 96ms e", { ...values, B: outside(values.b), D: outside(values.d) });
    });
    expect(lookups).toEqual([["in"], ["out"], ["out"], ["in"]]);
    expect(l.acked).toEqual([]);
  });

  it("keepInRegion - an idle slot gathers statuses for gatherMs: one lookup for those arriving meanwhile", () => {
    const l = ledger();
    const lookups: string[][] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: licenced(l, "d1", 1), b: licenced(l, "d2", 2), c: licenced(l, "d3", 3), d: licenced(l, "d4", 4) };
      const lookup = (drivers: readonly { park_id: string; driver_id: string }[]) => {
        lookups.push(drivers.map((d) => d.driver_id));
        return cold("-(m|)", { m: new Map(drivers.map((d) => [`${d.park_id}/${d.driver_id}`, pointIn("moscow")] as const)) });
      };
      // a, b, c within the 10 ms window go together at 10 ms (answered at 11); d, later, gathers on its own.
      const out = cold("a 3ms b 3ms c 20ms d", values).pipe(
        keepInRegion(lookup, { regions: ["moscow"], concurrency: 4, batchSize: 100, gatherMs: 10, retryBaseMs: 1, retryMaxMs: 1 }),
      );
      expectObservable(out).toBe("11ms (abc) 24ms d", values);
    });
    expect(lookups).toEqual([["d1", "d2", "d3"], ["d4"]]);
  });

  it("keepInRegion - with several lookups in flight, results still leave in arrival order", () => {
    const l = ledger();
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: licenced(l, "slow", 1), b: licenced(l, "fast", 2) };
      const lookup = (drivers: readonly { park_id: string; driver_id: string }[]) => {
        const m = new Map(drivers.map((d) => [`${d.park_id}/${d.driver_id}`, pointIn("moscow")] as const));
        return drivers[0]!.driver_id === "slow" ? cold("----(m|)", { m }) : cold("-(m|)", { m });
      };
      const out = cold("ab", values).pipe(keepInRegion(lookup, { regions: ["moscow"], concurrency: 2, batchSize: 100, retryBaseMs: 1, retryMaxMs: 1 }));
      expectObservable(out).toBe("4ms (ab)", values);
    });
  });
});

describe("scope: the filters decide who gets connected, never who gets disconnected", () => {
  it("keepInRegion - an offline is never looked up: with nothing ahead it passes at once, else it keeps its place behind its driver's earlier statuses", () => {
    const l = ledger();
    const offline = (seq: number): LicencedStatus => ({ ...licenced(l, "d1", seq), status: "offline" });
    const asked: string[][] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: offline(1), b: licenced(l, "d1", 2), c: offline(3) };
      // trackstory is down for b's first lookup.
      const lookup = (drivers: readonly { park_id: string; driver_id: string }[]) => {
        asked.push(drivers.map((d) => d.driver_id));
        if (asked.length === 1) return cold<Map<string, { lat: number; lon: number }>>("#", {}, new Error("trackstory down"));
        return cold("-(m|)", { m: new Map([["p/d1", pointIn("moscow")]]) });
      };
      const out = cold("abc", values).pipe(
        keepInRegion(lookup, { regions: ["moscow"], concurrency: 1, batchSize: 100, retryBaseMs: 1_000, retryMaxMs: 1_000 }),
      );
      // Before: a waited for a lookup too (and was dropped had d1 been outside). c passing ahead
      // of b would make b look stale and c a repeat of a: the disconnect would be sent as of a.
      expectObservable(out).toBe("a 1001ms (bc)", values);
    });
    expect(asked).toEqual([["d1"], ["d1"]]); // b's twice; never a's or c's
  });

  /**
   * The whole stream on virtual time: five drivers online at 0 ms (n only ever in cargo), then at
   * 100 ms each leaves the scope in another way, and n's statuses come again at 200 ms.
   */
  async function leaveScope(dropRepeats: boolean) {
    const l = ledger();
    const ts = scheduler();
    /** What each driver's actor was told, in order. */
    const told: Record<string, boolean[]> = {};
    const left = () => ts.now() >= 50;
    ts.run(({ cold }) => {
      const status = (d: string, status: "online" | "busy" | "offline", seq: number): DriverStatus => ({
        driver: `p/${d}`,
        park_id: "p",
        driver_id: d,
        status,
        at: seq,
        settle: l.settle(seq),
      });
      const statuses = cold("(abcdn) 93ms (ABCDN) 93ms (mo)", {
        ...{ a: status("a", "online", 1), b: status("b", "online", 2), c: status("c", "online", 3), d: status("d", "online", 4) },
        n: status("n", "online", 5),
        A: status("a", "offline", 11), // after leaving the region
        B: status("b", "online", 12), // now outside the region
        C: status("c", "online", 13), // lost his category
        D: status("d", "busy", 14), // trackstory has no position of his
        N: status("n", "offline", 15),
        m: status("n", "online", 21),
        o: status("n", "busy", 22),
      });
      const positions = (drivers: readonly { park_id: string; driver_id: string }[]) =>
        cold("(m|)", {
          m: new Map(
            drivers.flatMap((d) => {
              if (d.driver_id === "d" && left()) return [];
              return [[`p/${d.driver_id}`, pointIn(left() && ["a", "b"].includes(d.driver_id) ? "saint_petersburg" : "moscow")] as const];
            }),
          ),
        });
      statusStream(
        {
          statuses,
          profiles: { licenceOf: (driver) => `lic-${driver}`, refreshNow: async () => {} },
          categoriesOf: (driver) => (driver === "p/n" || (driver === "p/c" && left()) ? ["cargo"] : ["econom"]),
          positions,
          tell: async () => {},
        },
        {
          categories: ["econom"],
          regions: ["moscow"],
          debounceMs: 10,
          maxDelayMs: 50,
          dropRepeats,
          tellConcurrency: 10,
          lookupConcurrency: 4,
          lookupBatchSize: 100,
          retryBaseMs: 1,
          retryMaxMs: 1,
          memoryCapacity: 1_000,
          missRefreshMs: 1_000,
          count: l.count,
          now: () => ts.now(),
          scheduler: ts,
        },
      ).subscribe((c) => {
        told[c.driver_id] = [...(told[c.driver_id] ?? []), c.connected];
      });
    });
    await new Promise((r) => setTimeout(r, 0)); // the tells resolve (a promise each) after virtual time ran
    return { told, l };
  }

  it("a driver connected in scope is disconnected when he goes offline outside, leaves the region, loses his category or his position", async () => {
    const { told, l } = await leaveScope(true);
    // Before: a's offline, b's, c's and d's statuses were dropped by the filters: KRT kept all four connected.
    expect(told).toEqual({ a: [true, false], b: [true, false], c: [true, false], d: [true, false], n: [false] });
    // n was never connected: his first status tells his actor he is not (reported to KRT once, if
    // bound); his later ones are repeats, the out-of-scope ones counted as filtered.
    expect(l.outcomes.filter((o) => o !== "told").sort()).toEqual(["category_filtered", "category_filtered", "repeat"]);
    expect(l.acked.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 21, 22]);
  });

  it("in a cluster (no repeat filters) every disconnect of an out-of-scope driver reaches his actor, which orders them", async () => {
    const { told } = await leaveScope(false);
    expect(told).toEqual({ a: [true, false], b: [true, false], c: [true, false], d: [true, false], n: [false, false, false] });
  });
});

describe("tellSessions", () => {
  it("acknowledges a message only after its tell resolved, and retries a failed tell meanwhile keeping it alive", () => {
    const l = ledger();
    let attempts = 0;
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1) };
      const tell = () => (++attempts === 1 ? cold("--#", {}, new Error("actor moving")) : cold("---(x|)", { x: undefined }));
      const out = cold("a", values).pipe(tellSessions(tell, { concurrency: 4, retryBaseMs: 20, retryMaxMs: 20 }, l.count));
      // Fails at 2 ms, retried at 22 ms, committed at 25 ms.
      expectObservable(out).toBe("25ms a", values);
    });
    expect(attempts).toBe(2);
    expect(l.working).toEqual([1]);
    expect(l.acked).toEqual([1]);
    expect(l.outcomes).toEqual(["told"]);
  });

  it("at most `concurrency` tells are in flight; the rest wait their turn", () => {
    const l = ledger();
    let inFlight = 0;
    let peak = 0;
    scheduler().run(({ cold, expectObservable }) => {
      const values = Object.fromEntries("abcdef".split("").map((k, i) => [k, change(l, i, `d${i}`, true, 1)]));
      const tell = () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        return cold("----(x|)", { x: undefined }).pipe(tap({ complete: () => inFlight-- }));
      };
      const out = cold("(abcdef)", values).pipe(tellSessions(tell, { concurrency: 2, retryBaseMs: 1, retryMaxMs: 1 }, l.count));
      expectObservable(out).toBe("4ms (ab) 0ms (cd) 0ms (ef)", values);
    });
    expect(peak).toBe(2);
  });

  it("a tell the actor keeps refusing for what it says is given up after maxPoisonAttempts: dead-lettered with the reason, not acknowledged as told; the next tells go on", () => {
    const l = ledger();
    const refused = Object.assign(new Error("value out of range"), { code: "commit_rejected" });
    let attempts = 0;
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1), b: change(l, 2, "d2", true, 1) };
      const tell = (c: { driver_id: string }) => {
        if (c.driver_id !== "d1") return cold("-(x|)", { x: undefined });
        attempts++;
        return cold("-#", {}, refused);
      };
      const out = cold("(ab)", values).pipe(tellSessions(tell, { concurrency: 1, retryBaseMs: 10, retryMaxMs: 10, maxPoisonAttempts: 3 }, l.count));
      // d1 fails at 1, 12 and 23 ms and is given up; only then (concurrency 1) is d2 told.
      expectObservable(out).toBe("24ms b", values);
    });
    expect(attempts).toBe(3);
    expect(l.rejected).toEqual([1]);
    expect(l.acked).toEqual([2]);
  });

  it("a tell failing on the way (actor moving, database down) is retried for as long as it lasts, never given up", () => {
    const l = ledger();
    const unavailable = Object.assign(new Error("database down"), { code: "actor_unavailable" });
    let attempts = 0;
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: change(l, 1, "d1", true, 1) };
      const tell = () => (++attempts <= 20 ? cold("-#", {}, unavailable) : cold("-(x|)", { x: undefined }));
      const out = cold("a", values).pipe(tellSessions(tell, { concurrency: 1, retryBaseMs: 1, retryMaxMs: 1, maxPoisonAttempts: 3 }, l.count));
      expectObservable(out).toBe("41ms a", values);
    });
    expect(attempts).toBe(21);
    expect(l.rejected).toEqual([]);
    expect(l.acked).toEqual([1]);
  });
});
