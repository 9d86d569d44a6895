// What must hold in every state of a cabinet, whatever happened before; shared by the model
// traversal and the property test.
import type { SnapshotFrom } from "xstate";
import type { CabinetContext, cabinetMachine } from "../../machines/cabinet.machine.ts";
import { isActive } from "../../machines/cabinetCells.ts";

/** What must hold in every state, whatever happened before: the violations found (none is good). */
export function violations(c: CabinetContext, value: SnapshotFrom<typeof cabinetMachine>["value"], limit: number): string[] {
  const found: string[] = [];
  const check = (ok: boolean, what: string) => void (ok || found.push(what));
  const bookings = new Map(c.bookings.map((b) => [b.booking_id, b]));
  for (const cell of c.cells) {
    if (cell.booking_id === null) continue;
    const b = bookings.get(cell.booking_id);
    check(b !== undefined && isActive(b) && b.cells.includes(cell.cell), `cell ${cell.cell} held by ${cell.booking_id}, which is not an active booking of it`);
  }
  const heldBy = new Map<number, string>();
  const reserved = new Set<string>();
  for (const b of c.bookings) {
    if (b.status === "booked" || b.status === "opening") {
      for (const n of b.cells) {
        check(!heldBy.has(n), `cell ${n} reserved by ${b.booking_id} and ${heldBy.get(n)}`);
        heldBy.set(n, b.booking_id);
        check(c.cells.find((x) => x.cell === n)?.booking_id === b.booking_id, `cell ${n} of ${b.booking_id} not held by it`);
      }
      for (const r of b.reserved) {
        if (!r.accumulator_id) continue;
        check(!reserved.has(r.accumulator_id), `accumulator ${r.accumulator_id} promised to two bookings`);
        reserved.add(r.accumulator_id);
      }
    }
    if (!isActive(b)) check(!c.cells.some((x) => x.booking_id === b.booking_id), `${b.status} booking ${b.booking_id} still holds cells`);
    if (b.result)
      check(b.request_ids.includes(b.result.request_id) && ["opened", "completed"].includes(b.status), `${b.booking_id}: result without its request or status`);
    if (b.status !== "opening") check(b.waiting.length === 0, `${b.booking_id} is ${b.status} with asks waiting`);
  }
  for (const id of c.written_off) check(!reserved.has(id), `written-off accumulator ${id} promised to a booking`);
  const ids = c.cells.flatMap((x) => (x.accumulator_id ? [x.accumulator_id] : []));
  check(new Set(ids).size === ids.length, `an accumulator in two cells: ${ids}`);
  for (const id of c.queue) check(bookings.get(id)?.status === "opening", `queued ${id} is not opening`);
  if (typeof value === "object" && "registered" in value) {
    const r = value.registered as { connectivity: string; command: string };
    check((r.command === "unlocking") === (c.unlocking !== null), "command region and `unlocking` disagree");
    // The booking being unlocked is opening, unless a late answer to an earlier attempt settled it meanwhile.
    const u = c.unlocking ? bookings.get(c.unlocking) : undefined;
    if (c.unlocking) check(u?.status === "opening" || (u?.result ?? null) !== null, `unlocking ${c.unlocking} is ${u?.status}`);
    check(r.connectivity === "unresponsive" ? c.missed_polls >= limit : c.missed_polls < limit, `${r.connectivity} with ${c.missed_polls} missed polls`);
  }
  return found;
}
