// The request-head limits count UTF-8 bytes: a head of many multi-byte characters is measured
// exactly, whether it is under the limit in characters or not.
import { describe, expect, it } from "vitest";
import { limitRequestHead, MAX_HEADER_BYTES, MAX_HEADER_FIELDS, MAX_URL_BYTES } from "../../http/requestLimits.ts";

/** The status the middleware answered, or "next" when it let the request through. */
function verdict(url: string, headers: Record<string, string>): number | "next" {
  let status: number | "next" | undefined;
  const res = { status: (code: number) => ({ json: () => (status = code) }) };
  (limitRequestHead as (...args: unknown[]) => void)({ url, headers }, res, () => (status = "next"));
  return status!;
}

/** One header whose name and value are `bytes` long together. */
const header = (bytes: number) => ({ "x-big": "a".repeat(bytes - "x-big".length) });

describe("limitRequestHead", () => {
  it("lets through a head at the limits and answers 414/431 past them", () => {
    expect(verdict(`/${"a".repeat(MAX_URL_BYTES - 1)}`, {})).toBe("next");
    expect(verdict(`/${"a".repeat(MAX_URL_BYTES)}`, {})).toBe(414);
    expect(verdict("/", header(MAX_HEADER_BYTES))).toBe("next");
    expect(verdict("/", header(MAX_HEADER_BYTES + 5))).toBe(431);
    const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-${i}`, "v"]));
    expect(verdict("/", fields(MAX_HEADER_FIELDS))).toBe("next");
    expect(verdict("/", fields(MAX_HEADER_FIELDS + 1))).toBe(431);
  });

  it("counts multi-byte characters as their UTF-8 bytes", () => {
    // 2 bytes each: over the limit in bytes while under it in characters, and the reverse case.
    expect(verdict("/", { "x-big": "é".repeat(MAX_HEADER_BYTES / 2 + 10) })).toBe(431);
    expect(verdict("/", { "x-big": "é".repeat(MAX_HEADER_BYTES / 2 - 10) })).toBe("next");
    expect(verdict("/", { "x-big": "€".repeat(MAX_HEADER_BYTES / 3 - 10) })).toBe("next");
    expect(verdict(`/${"é".repeat(MAX_URL_BYTES / 2)}`, {})).toBe(414);
    expect(verdict(`/${"é".repeat(MAX_URL_BYTES / 2 - 1)}`, {})).toBe("next");
  });
});
