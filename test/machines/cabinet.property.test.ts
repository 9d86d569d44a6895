// Property: whatever sequence of bookings, opens, releases, expiries, device answers, silences,
// late answers, reports, closed cells and write-offs a cabinet sees, it never reserves the same cell
// or accumulator twice (nor a written-off one), and a booking is refused only when there really was
// not enough.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createActor, fromPromise } from "xstate";
import { cabinetMachine, type CabinetEvent, type UnlockAnswer, type UnlockInput } from "../../machines/cabinet.machine.ts";
import { cellsToIssue, cellsToReturn, promisedAccumulators } from "../../machines/cabinetCells.ts";
import type { Effect } from "../../actors/protocol.ts";
import { violations } from "./cabinetInvariants.ts";

const CELLS = [1, 2, 3, 4, 5, 6];
const POOL = ["A", "B", "C", "D", "E", "F", "G", "H"];
const LIMIT = 2;

const reportArb = fc
  .array(fc.record({ accumulator_id: fc.option(fc.constantFrom(...POOL), { nil: null }), charge: fc.integer({ min: 0, max: 100 }) }), {
    minLength: CELLS.length,
    maxLength: CELLS.length,
  })
  .map((cells) => {
    const seen = new Set<string>();
    return cells.map((c, i) => {
      const id = c.accumulator_id && !seen.has(c.accumulator_id) ? c.accumulator_id : null;
      if (id) seen.add(id);
      return { cell: i + 1, accumulator_id: id, charge: id ? c.charge : null };
    });
  });

const opArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("book" as const),
      kind: fc.constantFrom("issue" as const, "return" as const),
      count: fc.integer({ min: 1, max: 3 }),
      minCharge: fc.integer({ min: 0, max: 60 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("open" as const), k: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("release" as const, "expire" as const), k: fc.nat(9) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("answer" as const), mask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("silence" as const), late: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("late" as const),
      k: fc.nat(9),
      attempt: fc.integer({ min: 1, max: 2 }),
      mask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("report" as const), cells: reportArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("closed" as const),
      cell: fc.constantFrom(...CELLS),
      accumulator_id: fc.option(fc.constantFrom(...POOL), { nil: null }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("missed" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("write_off" as const), accumulator_id: fc.constantFrom(...POOL) }) },
);

describe("cabinet machine (property)", () => {
  it("random operation sequences never double-reserve and refuse only when short", () => {
    // The sequences must actually exercise the interesting paths, not just refusals.
    const seen = { booked: 0, refused: 0, opened: 0, late: 0, unresponsive: 0 };
    fc.assert(
      fc.property(reportArb, fc.array(opArb, { minLength: 10, maxLength: 60, size: "max" }), (initial, ops) => {
        const effects: Effect[] = [];
        const actor = createActor(cabinetMachine.provide({ actors: { unlockCells: fromPromise<UnlockAnswer, UnlockInput>(() => new Promise(() => {})) } }), {
          input: { id: "CAB-P" },
        });
        actor.on("*", (e) => effects.push(e as Effect));
        actor.start();
        let at = 1_000;
        const tick = (ms: number) => {
          at += ms;
          return at;
        };
        const send = (e: object) => actor.send({ at: tick(10), ...e } as CabinetEvent);
        send({ type: "register", lat: 1, lon: 2 });
        send({ type: "inventory_reported", polled_at: at, cells: initial });
        const ids: string[] = [];
        for (const [i, o] of ops.entries()) {
          const c = actor.getSnapshot().context;
          // Mostly the latest bookings, so opens meet bookings that are still held.
          const booked = (k: number) => ids[Math.max(0, ids.length - 1 - (k % 3))] ?? "none";
          switch (o.op) {
            case "book": {
              const id = `b${i}`;
              const online = actor.getSnapshot().matches({ registered: { connectivity: "online" } });
              const bookAt = at + 10; // what `send` stamps it with
              const available =
                o.kind === "issue"
                  ? cellsToIssue(c.cells, o.count, o.minCharge, new Set([...promisedAccumulators(c.bookings), ...c.written_off]), bookAt)
                  : cellsToReturn(c.cells, o.count, bookAt);
              send({ type: "book", booking_id: id, kind: o.kind, count: o.count, contractor_id: "t", min_charge: o.minCharge, ttl_ms: 500, replyTo: id });
              const answer = effects.find((e) => e.type === "reply" && e.replyTo === id) as Extract<Effect, { type: "reply" }>;
              if (!online) expect(answer.reply).toMatchObject({ ok: false, code: "cabinet_unresponsive" });
              else if (available) {
                expect(answer.reply.ok).toBe(true);
                const value = (answer.reply as { value: { cells: number[]; accumulators: { charge: number }[] } }).value;
                expect(value.cells).toHaveLength(o.count);
                for (const a of value.accumulators) expect(a.charge).toBeGreaterThanOrEqual(o.minCharge);
                ids.push(id);
                seen.booked++;
              } else {
                seen.refused++;
                expect(answer.reply).toMatchObject({ ok: false, code: o.kind === "issue" ? "not_enough_accumulators" : "not_enough_empty_cells" });
              }
              break;
            }
            case "open":
              send({ type: "open", booking_id: booked(o.k) });
              break;
            case "release":
              send({ type: "release", booking_id: booked(o.k) });
              break;
            case "expire":
              send({ type: "booking_expired", booking_id: booked(o.k) });
              break;
            case "answer": {
              const b = c.bookings.find((x) => x.booking_id === c.unlocking);
              if (!b) break;
              const opened = b.cells.filter((_, j) => o.mask[j % 4]);
              actor.send({
                type: "xstate.done.actor.unlockCells",
                output: { request_id: b.request_ids.at(-1)!, opened, failed: b.cells.filter((n) => !opened.includes(n)), at: tick(10) },
              });
              break;
            }
            case "silence":
              if (c.unlocking)
                actor.send({
                  type: "xstate.error.actor.unlockCells",
                  error: { code: "cabinet_not_responding", message: "-", at: tick(o.late ? 1_000 : 10) },
                });
              break;
            case "late": {
              const b = c.bookings.find((x) => x.booking_id === booked(o.k));
              if (b)
                send({ type: "unlock_result_late", request_id: `${b.booking_id}.${o.attempt}`, opened: b.cells.filter((_, j) => o.mask[j % 4]), failed: [] });
              break;
            }
            case "report":
              send({ type: "inventory_reported", polled_at: at - 5, cells: o.cells });
              break;
            case "closed":
              send({ type: "cell_closed", cell: o.cell, accumulator_id: o.accumulator_id });
              break;
            case "missed":
              send({ type: "poll_missed", limit: LIMIT });
              break;
            case "write_off":
              send({ type: "write_off", accumulator_id: o.accumulator_id });
              break;
          }
          const s = actor.getSnapshot();
          if (s.matches({ registered: { connectivity: "unresponsive" } })) seen.unresponsive++;
          expect(s.status).toBe("active");
          expect(violations(s.context, s.value, LIMIT)).toEqual([]);
        }
        const results = actor
          .getSnapshot()
          .context.bookings.map((b) => b.result)
          .filter((r) => r !== null);
        seen.opened += results.length;
        seen.late += results.filter((r) => r.late).length;
        actor.stop();
      }),
      { numRuns: 300 },
    );
    for (const [what, count] of Object.entries(seen)) expect(count, what).toBeGreaterThan(20);
  });
});
