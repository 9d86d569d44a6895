// The per-instance rate limit's queue is bounded for callers someone waits for: one beyond its
// length, or whose turn would come later than its wait limit, is refused at once (`<system>_busy`),
// and those let in still go. Patient callers (background reports) wait behind them, never refused,
// and every caller of either kind takes one token: the cap is exact.
import { describe, expect, it } from "vitest";
import { PartnerBusyError } from "../../integrations/index.ts";
import { RateLimiter } from "../../integrations/rateLimiter.ts";

const outcome = (p: Promise<void>) =>
  p.then(
    () => "went",
    (e: unknown) => (e instanceof PartnerBusyError ? e.code : String(e)),
  );

describe("rate limiter", () => {
  it("a caller beyond the queue's length is refused with krt_busy; the queued ones still get their turn", async () => {
    const limiter = new RateLimiter(20, { system: "krt", burst: 1, maxQueue: 2 });
    const calls = Array.from({ length: 5 }, () => outcome(limiter.take("bounded")));
    expect(limiter.waiting).toBe(2);
    expect(await Promise.all(calls)).toEqual(["went", "went", "went", "krt_busy", "krt_busy"]);
  });

  it("a caller whose turn would come later than the wait limit is refused at once, not after waiting", async () => {
    // 10 a second, one at once: the 2nd goes in ~100 ms, the 3rd in ~200 ms, the 4th in ~300 ms.
    const limiter = new RateLimiter(10, { system: "krt", burst: 1, maxWaitMs: 250 });
    const calls = Array.from({ length: 4 }, () => outcome(limiter.take("bounded")));
    expect(limiter.waiting).toBe(2);
    expect(await Promise.all(calls)).toEqual(["went", "went", "went", "krt_busy"]);
  });

  it("a refused caller takes no place: once the queue drained, the next caller is let in", async () => {
    const limiter = new RateLimiter(50, { system: "krt", burst: 1, maxQueue: 1 });
    const first = [limiter.take("bounded"), limiter.take("bounded"), outcome(limiter.take("bounded"))];
    expect(await first[2]).toBe("krt_busy");
    await Promise.all(first.slice(0, 2));
    expect(await outcome(limiter.take("bounded").then(() => limiter.take("bounded")))).toBe("went");
  });

  it("patient callers are never refused however many wait, and bounded ones arriving later go ahead of them without counting them", async () => {
    const limiter = new RateLimiter(100, { system: "krt", burst: 1, maxQueue: 2, maxWaitMs: 100 });
    const order: string[] = [];
    const patient = Array.from({ length: 30 }, (_, i) => limiter.take("patient").then(() => order.push(`p${i}`)));
    expect(limiter.waiting).toBe(29); // the first took the one token at hand
    // 29 patient calls wait (~290 ms at 100/s), over maxWaitMs: the bounded caller is still let in, ahead of them.
    const bounded = [outcome(limiter.take("bounded").then(() => void order.push("b0"))), outcome(limiter.take("bounded").then(() => void order.push("b1")))];
    expect(await outcome(limiter.take("bounded"))).toBe("krt_busy"); // its own queue (2) is full
    expect(await Promise.all(bounded)).toEqual(["went", "went"]);
    await Promise.all(patient);
    expect(order.slice(0, 3)).toEqual(["p0", "b0", "b1"]);
    expect(order.slice(3)).toEqual(Array.from({ length: 29 }, (_, i) => `p${i + 1}`));
  });

  it("every caller of either kind takes one token: over a long queue the calls let through never exceed the rate", async () => {
    const rate = 200;
    const limiter = new RateLimiter(rate, { system: "krt", burst: 5, maxQueue: 1_000 });
    const wentAt: number[] = [];
    const started = performance.now();
    const calls = Array.from({ length: 100 }, (_, i) => limiter.take(i % 3 === 0 ? "bounded" : "patient").then(() => wentAt.push(performance.now() - started)));
    await Promise.all(calls);
    // By each call's start, the bucket held at most burst + elapsed x rate tokens.
    for (const [n, at] of wentAt.entries()) expect(n + 1).toBeLessThanOrEqual(5 + Math.ceil((at * rate) / 1000) + 1);
  });

  it("a caller whose signal aborts leaves the queue at once, rejected with its reason, and the next caller gets its turn", async () => {
    const limiter = new RateLimiter(20, { system: "krt", burst: 1 });
    const order: string[] = [];
    const gaveUp = new AbortController();
    await limiter.take("patient"); // the one token at hand
    const calls = [
      limiter.take("patient").then(() => void order.push("a")),
      outcome(limiter.take("patient", gaveUp.signal).then(() => void order.push("b"))),
      limiter.take("patient").then(() => void order.push("c")),
    ];
    expect(limiter.waiting).toBe(3);
    gaveUp.abort(new Error("actor stopped"));
    expect(limiter.waiting).toBe(2);
    expect((await Promise.all(calls))[1]).toBe("Error: actor stopped");
    expect(order).toEqual(["a", "c"]);
    expect(limiter.waiting).toBe(0);
    await expect(limiter.take("bounded", gaveUp.signal)).rejects.toThrow("actor stopped");
  });

  it("turns promised to patient callers come one per 1/rate, behind those waiting and those promised before; bounded callers are not held back by them", async () => {
    const limiter = new RateLimiter(10, { system: "krt", burst: 1, maxQueue: 5 });
    expect(limiter.patientWaitMs()).toBe(0); // a token at hand
    await limiter.take("patient");
    const waiting = [limiter.take("patient"), limiter.take("patient")]; // turns at ~100 and ~200 ms
    const first = limiter.promiseTurn();
    expect(first).toBeGreaterThan(250);
    expect(first).toBeLessThanOrEqual(300);
    const second = limiter.promiseTurn();
    expect(second - first).toBeCloseTo(100, -1);
    expect(limiter.promised).toBe(2);
    expect(limiter.patientWaitMs()).toBeCloseTo(second + 100, -1);
    // An id check waits behind no promise (nor behind the patient callers queued).
    expect(await outcome(limiter.take("bounded"))).toBe("went");
    await Promise.all(waiting);
  });
});
