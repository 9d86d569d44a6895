// The cabinet device protocol over MQTT, Yandex IoT Core style: the service publishes commands to
// `<prefix>$devices/<cabinet_id>/commands`, a cabinet publishes events to
// `<prefix>$devices/<cabinet_id>/events`. JSON; replies echo the command's `request_id`.
import { Result, Schema } from "effect";
import { describeIssues, issueLines } from "../issues.ts";

/** Cabinet ids travel in topics: no `/`, `+`, `#` or spaces. */
export const CabinetId = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, { message: "expected 1-64 letters, digits, . _ : -" }));
const RequestId = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128));
const CellNo = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }));
const Charge = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 100 }));
const AccumulatorId = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128));

export const InventoryCommand = Schema.Struct({ type: Schema.Literal("inventory"), request_id: RequestId });
export const UnlockCommand = Schema.Struct({ type: Schema.Literal("unlock"), request_id: RequestId, cells: Schema.Array(CellNo).check(Schema.isMinLength(1)) });
export const Command = Schema.Union([InventoryCommand, UnlockCommand]);
export type Command = typeof Command.Type;

export const ReportedCell = Schema.Struct({ cell: CellNo, accumulator_id: Schema.NullOr(AccumulatorId), charge: Schema.NullOr(Charge) });
export const InventoryReport = Schema.Struct({
  type: Schema.Literal("inventory_report"),
  /** Absent when the device reports on its own. */
  request_id: Schema.optional(RequestId),
  cells: Schema.Array(ReportedCell).check(Schema.isMaxLength(1000)),
});
export const UnlockResult = Schema.Struct({
  type: Schema.Literal("unlock_result"),
  request_id: RequestId,
  opened: Schema.Array(CellNo),
  failed: Schema.Array(CellNo),
});
export const CellClosed = Schema.Struct({ type: Schema.Literal("cell_closed"), cell: CellNo, accumulator_id: Schema.NullOr(AccumulatorId) });
export const DeviceEvent = Schema.Union([InventoryReport, UnlockResult, CellClosed]);
export type DeviceEvent = typeof DeviceEvent.Type;
export type InventoryReport = typeof InventoryReport.Type;
export type UnlockResult = typeof UnlockResult.Type;
export type CellClosed = typeof CellClosed.Type;

/** Each message's schema by its `type`: decoded against it alone, not tried against every member of the union. */
const deviceEventsByType = new Map<string, Schema.Decoder<DeviceEvent>>([
  ["inventory_report", InventoryReport],
  ["unlock_result", UnlockResult],
  ["cell_closed", CellClosed],
]);
const commandsByType = new Map<string, Schema.Decoder<Command>>([
  ["inventory", InventoryCommand],
  ["unlock", UnlockCommand],
]);
const isCabinetId = Schema.is(CabinetId);

export const commandsTopic = (prefix: string, cabinetId: string) => `${prefix}$devices/${cabinetId}/commands`;
export const eventsTopic = (prefix: string, cabinetId: string) => `${prefix}$devices/${cabinetId}/events`;
/** Every cabinet's events (what the service subscribes to) or commands (what a simulator does). */
export const allEvents = (prefix: string) => `${prefix}$devices/+/events`;
export const allCommands = (prefix: string) => `${prefix}$devices/+/commands`;

/** The cabinet id of `<prefix>$devices/<id>/<kind>`, or undefined for any other topic. */
export function cabinetOfTopic(prefix: string, topic: string, kind: "events" | "commands"): string | undefined {
  if (!topic.startsWith(`${prefix}$devices/`) || !topic.endsWith(`/${kind}`)) return undefined;
  const id = topic.slice(prefix.length + "$devices/".length, -(kind.length + 1));
  return isCabinetId(id) ? id : undefined;
}

/** Why a message was refused; the reason labels the malformed-message counter. */
export type Malformed = { reason: "invalid_json" | "unknown_type" | "invalid_payload" | "duplicate_cells"; detail: string };

function parse<T>(payload: Buffer, byType: ReadonlyMap<string, Schema.Decoder<T>>): T | Malformed {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch {
    return { reason: "invalid_json", detail: "not JSON" };
  }
  const type = (json as { type?: unknown } | null)?.type;
  const schema = typeof type === "string" ? byType.get(type) : undefined;
  if (!schema) return { reason: "unknown_type", detail: `type ${JSON.stringify(type)?.slice(0, 40)}` };
  const decoded = Schema.decodeUnknownResult(schema)(json);
  if (Result.isSuccess(decoded)) return decoded.success;
  // Every issue, for the log: decoded again only when it is malformed.
  const issues = Schema.decodeUnknownResult(schema, { errors: "all" })(json);
  return { reason: "invalid_payload", detail: Result.isFailure(issues) ? describeIssues(issueLines(issues.failure)).slice(0, 300) : "" };
}

export const isMalformed = (x: unknown): x is Malformed => typeof (x as Malformed).reason === "string" && !("type" in (x as object));

/** Decodes a device event; anything off contract comes back as `Malformed`, never thrown. */
export function decodeDeviceEvent(payload: Buffer): DeviceEvent | Malformed {
  const event = parse(payload, deviceEventsByType);
  if (isMalformed(event) || event.type !== "inventory_report") return event;
  const cells = event.cells.map((c) => c.cell);
  if (new Set(cells).size !== cells.length) return { reason: "duplicate_cells", detail: "a cell is reported twice" };
  return event;
}

/** Decodes a command (the simulator's side). */
export const decodeCommand = (payload: Buffer): Command | Malformed => parse(payload, commandsByType);
