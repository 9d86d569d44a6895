// The per-instance rate limit's queue is bounded: a caller beyond its length, or whose turn would
// come later than its wait limit, is refused at once (`<system>_busy`), and those let in still go.
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
    const calls = Array.from({ length: 5 }, () => outcome(limiter.take()));
    expect(limiter.waiting).toBe(2);
    expect(await Promise.all(calls)).toEqual(["went", "went", "went", "krt_busy", "krt_busy"]);
  });

  it("a caller whose turn would come later than the wait limit is refused at once, not after waiting", async () => {
    // 10 a second, one at once: the 2nd goes in ~100 ms, the 3rd in ~200 ms, the 4th in ~300 ms.
    const limiter = new RateLimiter(10, { system: "krt", burst: 1, maxWaitMs: 250 });
    const calls = Array.from({ length: 4 }, () => outcome(limiter.take()));
    expect(limiter.waiting).toBe(2);
    expect(await Promise.all(calls)).toEqual(["went", "went", "went", "krt_busy"]);
  });

  it("a refused caller takes no place: once the queue drained, the next caller is let in", async () => {
    const limiter = new RateLimiter(50, { system: "krt", burst: 1, maxQueue: 1 });
    const first = [limiter.take(), limiter.take(), outcome(limiter.take())];
    expect(await first[2]).toBe("krt_busy");
    await Promise.all(first.slice(0, 2));
    expect(await outcome(limiter.take().then(() => limiter.take()))).toBe("went");
  });
});
