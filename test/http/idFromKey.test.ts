import { describe, expect, it } from "vitest";
import { idFromKey } from "../../http/route.ts";

describe("ids from Idempotency-Keys", () => {
  it("every attempt of one key in one scope names the same object; another scope or key another one", () => {
    const scope = '{"role":"fleet","park_id":"p1","uid":"1"} post /mailings';
    expect(idFromKey(scope, "k1")).toBe(idFromKey(scope, "k1"));
    expect(idFromKey(scope, "k2")).not.toBe(idFromKey(scope, "k1"));
    expect(idFromKey(scope.replace("p1", "p2"), "k1")).not.toBe(idFromKey(scope, "k1"));
    // The boundary between scope and key is not ambiguous.
    expect(idFromKey("ab", "c")).not.toBe(idFromKey("a", "bc"));
  });

  it("is a well-formed UUID (version 8, RFC variant), also for the longest and oddest keys", () => {
    for (const key of ["x", "k".repeat(128), "ключ/..\u0000", "9999999999999999999"]) {
      expect(idFromKey("scope", key)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });
});
