// A fake parks service: drivers kept in memory, filtered and paged like the real one.
import { Schema } from "effect";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { DriverStatus, ListDriversRequest } from "./client.ts";

export interface ParkDriver {
  readonly driverId: string;
  readonly workRule: string;
  readonly status: DriverStatus;
}

export interface ParksSimulator extends Simulator {
  /** Adds drivers to a park, replacing any with the same id. */
  addDrivers(parkId: string, drivers: readonly ParkDriver[]): void;
}

const AddDriversRequest = Schema.Struct({
  park_id: Schema.String,
  drivers: Schema.Array(Schema.Struct({ driver_id: Schema.String, work_rule: Schema.String, status: DriverStatus })),
});

/**
 * Serves `POST /v1/parks/drivers/list`, plus `POST /__parks/drivers` `{park_id, drivers}` for other processes.
 * @example const sim = await startParksSimulator({ parks: demoParks() })
 */
export async function startParksSimulator(
  options: { readonly port?: number; readonly parks?: Readonly<Record<string, readonly ParkDriver[]>> } = {},
): Promise<ParksSimulator> {
  const parks = new Map<string, Map<string, ParkDriver>>();
  const addDrivers = (parkId: string, drivers: readonly ParkDriver[]) => {
    const park = parks.get(parkId) ?? new Map<string, ParkDriver>();
    for (const d of drivers) park.set(d.driverId, d);
    parks.set(parkId, park);
  };
  for (const [parkId, drivers] of Object.entries(options.parks ?? {})) addDrivers(parkId, drivers);

  const sim = await startSimulator({
    name: "parks",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.post("/v1/parks/drivers/list", async (req, res) => {
        const body = await decodeBody(req, res, ListDriversRequest);
        if (body === undefined) return;
        const after = body.cursor == null ? undefined : fromCursor(body.cursor);
        if (after === null) return res.status(400).json({ code: "invalid_cursor", message: "cursor is not ours" });
        const matching = [...(parks.get(body.park_id)?.values() ?? [])]
          .filter(matches(body))
          .map((d) => d.driverId)
          .sort()
          .filter((id) => after === undefined || id > after);
        const page = matching.slice(0, body.limit);
        const last = page.at(-1);
        res.json({
          drivers: page.map((driver_id) => ({ driver_id })),
          cursor: matching.length > page.length && last !== undefined ? toCursor(last) : null,
        });
      });
      app.post("/__parks/drivers", async (req, res) => {
        const body = await decodeBody(req, res, AddDriversRequest);
        if (body === undefined) return;
        addDrivers(
          body.park_id,
          body.drivers.map((d) => ({ driverId: d.driver_id, workRule: d.work_rule, status: d.status })),
        );
        res.json({ added: body.drivers.length });
      });
    },
  });
  return { ...sim, addDrivers };
}

function matches(body: ListDriversRequest): (d: ParkDriver) => boolean {
  const include = body.include_contractor_ids?.length ? new Set(body.include_contractor_ids) : undefined;
  const exclude = new Set(body.exclude_contractor_ids ?? []);
  return (d) =>
    (body.work_rule === undefined || d.workRule === body.work_rule) &&
    (body.status === undefined || d.status === body.status) &&
    (include === undefined || include.has(d.driverId)) &&
    !exclude.has(d.driverId);
}

// Opaque to clients, so the real service can change its paging without breaking them.
const toCursor = (lastId: string): string => Buffer.from(`after:${lastId}`).toString("base64url");
function fromCursor(cursor: string): string | null {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  return text.startsWith("after:") ? text.slice("after:".length) : null;
}

/** Two parks of 20 drivers with mixed work rules and statuses, for `npm start` and demos. */
export function demoParks(): Record<string, ParkDriver[]> {
  const rules = ["default", "hourly", "night-shift"];
  const statuses: DriverStatus[] = ["online", "working", "offline", "online", "working"];
  const park = (n: number): ParkDriver[] =>
    Array.from({ length: 20 }, (_, i) => ({
      driverId: `driver-${n}-${String(i + 1).padStart(2, "0")}`,
      workRule: rules[(i + n) % rules.length] ?? "default",
      status: statuses[i % statuses.length] ?? "offline",
    }));
  return { "park-1": park(1), "park-2": park(2) };
}
