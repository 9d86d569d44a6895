// The kinds' projections as pure mappings: a cabinet's or accumulator's committed state to the row
// storage/cabinetRepository.ts upserts (no database here; the flow tests read the rows back).
import { Schema } from "effect";
import { describe, expect, it } from "vitest";
import type { CabinetContext } from "../../machines/cabinet.machine.ts";
import type { Booking } from "../../machines/cabinetCells.ts";
import type { AccumulatorContext } from "../../machines/accumulator.machine.ts";
import { cabinetKind, cabinetRow } from "../../services/cabinets/cabinetKind.ts";
import { accumulatorKind, accumulatorRow } from "../../services/cabinets/accumulatorKind.ts";
import { AccumulatorPublicEvent, CabinetPublicEvent } from "../../services/cabinets/publicEvents.ts";
import type { CabinetDevices } from "../../integrations/cabinet/index.ts";

const at = Date.UTC(2026, 0, 1, 12);
const booking = (booking_id: string, status: Booking["status"]): Booking => ({
  booking_id,
  kind: "issue",
  contractor_id: "tech-1",
  cells: [1],
  reserved: [{ cell: 1, accumulator_id: "ACC-1" }],
  ttl_ms: 60_000,
  created_at: at - 1_000,
  expires_at: at + 59_000,
  status,
  request_ids: [],
  result: null,
  waiting: [],
  closed: [],
  ended_at: null,
});
const cabinet: CabinetContext = {
  id: "CAB-1",
  lat: 55.75,
  lon: 37.61,
  registered_at: at - 60_000,
  cells: [
    { cell: 1, accumulator_id: "ACC-1", charge: 90, booking_id: "b1", open_until: null },
    { cell: 2, accumulator_id: null, charge: null, booking_id: null, open_until: at + 1 },
    { cell: 3, accumulator_id: "ACC-3", charge: 40, booking_id: null, open_until: at },
    { cell: 4, accumulator_id: "ACC-4", charge: 95, booking_id: null, open_until: null },
  ],
  bookings: [booking("b0", "released"), booking("b1", "booked")],
  queue: [],
  unlocking: null,
  last_report_at: null,
  missed_polls: 0,
  cells_changed_at: 0,
  closed_early: [],
  written_off: ["ACC-4", "ACC-GONE"],
};

describe("cabinet rows", () => {
  it("a registered cabinet: connectivity as state, cells open until their time, written-off accumulators marked, active bookings only", () => {
    const row = cabinetRow({ id: "cabinet/CAB-1", value: { registered: { connectivity: "unresponsive", command: "idle" } }, context: cabinet, at });
    expect(row).toEqual({
      cabinet_id: "CAB-1",
      lat: 55.75,
      lon: 37.61,
      state: "unresponsive",
      cells: [
        { cell: 1, accumulator_id: "ACC-1", charge: 90, booking_id: "b1", open: false, open_until: null, written_off: false },
        { cell: 2, accumulator_id: null, charge: null, booking_id: null, open: true, open_until: at + 1, written_off: false },
        { cell: 3, accumulator_id: "ACC-3", charge: 40, booking_id: null, open: false, open_until: at, written_off: false },
        { cell: 4, accumulator_id: "ACC-4", charge: 95, booking_id: null, open: false, open_until: null, written_off: true },
      ],
      bookings: [
        {
          booking_id: "b1",
          kind: "issue",
          contractor_id: "tech-1",
          cells: [1],
          status: "booked",
          created_at: new Date(at - 1_000).toISOString(),
          expires_at: new Date(at + 59_000).toISOString(),
        },
      ],
      last_report_at: null,
      registered_at: new Date(at - 60_000),
      updated_at: new Date(at),
    });
  });

  it("an unregistered or decommissioned cabinet has no row", () => {
    expect(cabinetRow({ id: "cabinet/CAB-1", value: "unregistered", context: cabinet, at })).toBeUndefined();
    expect(cabinetRow({ id: "cabinet/CAB-1", value: "decommissioned", context: cabinet, at })).toBeUndefined();
  });
});

describe("accumulator rows", () => {
  const accumulator = (location: AccumulatorContext["location"], updated_at = at - 5): AccumulatorContext => ({
    id: "ACC-1",
    location,
    charge: 77,
    stamp: 1,
    updated_at,
  });

  it("with a contractor who took it from a cabinet: the cell it came from", () => {
    const row = accumulatorRow({
      id: "accumulator/ACC-1",
      value: "with_contractor",
      context: accumulator({ kind: "contractor", contractor_id: "tech-1", from: { cabinet_id: "CAB-1", cell: 4 } }),
      at,
    });
    expect(row).toEqual({
      accumulator_id: "ACC-1",
      location: "contractor",
      contractor_id: "tech-1",
      cabinet_id: null,
      cell: null,
      scooter_id: null,
      charge: 77,
      from_cabinet_id: "CAB-1",
      from_cell: 4,
      updated_at: new Date(at - 5),
    });
  });

  it("in a scooter, lost, never located; updated_at falls back to the commit time", () => {
    const inScooter = accumulatorRow({
      id: "accumulator/ACC-1",
      value: "in_scooter",
      context: accumulator({ kind: "scooter", scooter_id: "S-1", contractor_id: "tech-1" }, 0),
      at,
    });
    expect(inScooter).toMatchObject({ location: "scooter", scooter_id: "S-1", contractor_id: "tech-1", from_cabinet_id: null, updated_at: new Date(at) });
    expect(accumulatorRow({ id: "accumulator/ACC-1", value: "unknown", context: accumulator(null), at })).toMatchObject({
      location: "unknown",
      contractor_id: null,
      cabinet_id: null,
    });
    expect(accumulatorRow({ id: "accumulator/ACC-1", value: "absent", context: accumulator(null), at })).toBeUndefined();
  });

  it("written off: no place any more, whatever the last one was; the charge stays", () => {
    const row = accumulatorRow({
      id: "accumulator/ACC-1",
      value: "written_off",
      context: accumulator({ kind: "cabinet", cabinet_id: "CAB-1", cell: 2, charge: 77 }),
      at,
    });
    expect(row).toMatchObject({ location: "written_off", cabinet_id: null, cell: null, contractor_id: null, scooter_id: null, charge: 77 });
  });
});

describe("public events", () => {
  // What the runtime puts around a kind's fields (actors/ActorCell.ts).
  const envelope = (type: string, state: string) => ({ type, id: "X", seq: 7, state, state_path: state, at: new Date(at).toISOString() });

  it("a decommissioned cabinet's last event and a written-off accumulator's decode with their documented schemas", () => {
    const cabinetFields = cabinetKind({ devices: {} as CabinetDevices, now: () => at }).publicEvent!({
      id: "CAB-1",
      value: "decommissioned",
      context: cabinet,
      at,
    });
    const decoded = Schema.decodeUnknownSync(CabinetPublicEvent)({ ...envelope("cabinet", "decommissioned"), ...cabinetFields });
    expect(decoded).toMatchObject({ state: "decommissioned", command: "idle", cells: 4, accumulators: 3 });
    const accumulatorFields = accumulatorKind().publicEvent!({
      id: "ACC-1",
      value: "written_off",
      context: { id: "ACC-1", location: { kind: "cabinet", cabinet_id: "CAB-1", cell: 2, charge: 50 }, charge: 50, stamp: 3, updated_at: at },
      at,
    });
    const written = Schema.decodeUnknownSync(AccumulatorPublicEvent)({ ...envelope("accumulator", "written_off"), ...accumulatorFields });
    expect(written).toMatchObject({ state: "written_off", cabinet_id: null, cell: null, contractor_id: null, scooter_id: null, charge: 50 });
  });
});
