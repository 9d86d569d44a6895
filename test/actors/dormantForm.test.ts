import { describe, expect, it } from "vitest";
import { DEFLATE_FROM_CHARS, fromDormant, toDormant } from "../../actors/dormantForm.ts";

const processed = ["m-1", "m-2"];

describe("an actor's sleeping form", () => {
  it("keeps a small snapshot as plain JSON and gives back exactly what it was given", () => {
    const snapshot = { status: "active", value: { bound: "idle" }, context: { id: "x", at: null, n: Number.MAX_SAFE_INTEGER }, children: {} };
    const form = toDormant(snapshot, processed);
    expect(form).toBe(JSON.stringify({ snapshot, processed }));
    expect(fromDormant(form)).toEqual({ snapshot, processed });
  });

  it("deflates a large snapshot into a one-byte string, smaller than its JSON, and restores it", () => {
    const cells = Array.from({ length: 40 }, (_, i) => ({ cell: i, accumulator_id: `acc-${i}`, charge: i % 101, booked_by: null }));
    const snapshot = { status: "active", value: { registered: "online" }, context: { cells }, children: {} };
    const json = JSON.stringify({ snapshot, processed });
    expect(json.length).toBeGreaterThan(DEFLATE_FROM_CHARS);
    const form = toDormant(snapshot, processed);
    expect(form.length).toBeLessThan(json.length / 2);
    expect([...form].every((c) => c.charCodeAt(0) <= 0xff)).toBe(true); // one byte a character
    expect(fromDormant(form)).toEqual({ snapshot, processed });
  });

  it("restores text beyond Latin-1 and a form that starts like the deflated marker, at either size", () => {
    for (const size of [10, DEFLATE_FROM_CHARS]) {
      const snapshot = { context: { name: "Иван Новиков 🚕", z: "z".repeat(size) } };
      const ids = ["z", "zz"];
      expect(fromDormant(toDormant(snapshot, ids))).toEqual({ snapshot, processed: ids });
    }
  });
});
