// A fake driver-trackstory: last positions kept in memory per park driver.
import { Schema } from "effect";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { Position, PositionsRequest } from "./client.ts";

export interface TrackstorySimulator extends Simulator {
  /** Sets drivers' last positions. */
  move(positions: readonly Position[]): void;
  /** Drops drivers' positions: trackstory knows none of theirs. */
  forget(drivers: readonly { park_id: string; driver_id: string }[]): void;
}

const MoveRequest = Schema.Struct({ positions: Schema.Array(Position) });

/**
 * Serves `POST /v1/positions`, plus `POST /__trackstory/positions` `{positions}` for other processes.
 * @example const sim = await startTrackstorySimulator(); sim.move([{ park_id, driver_id, lat: 55.75, lon: 37.61 }])
 */
export async function startTrackstorySimulator(options: { readonly port?: number } = {}): Promise<TrackstorySimulator> {
  const last = new Map<string, Position>();
  const move = (positions: readonly Position[]) => {
    for (const p of positions) last.set(`${p.park_id}/${p.driver_id}`, p);
  };
  const sim = await startSimulator({
    name: "trackstory",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.post("/v1/positions", async (req, res) => {
        const body = await decodeBody(req, res, PositionsRequest);
        if (!body) return;
        res.json({ positions: body.drivers.flatMap((d) => last.get(`${d.park_id}/${d.driver_id}`) ?? []) });
      });
      app.post("/__trackstory/positions", async (req, res) => {
        const body = await decodeBody(req, res, MoveRequest);
        if (!body) return;
        move(body.positions);
        res.json({ moved: body.positions.length });
      });
    },
  });
  const forget = (drivers: readonly { park_id: string; driver_id: string }[]) => {
    for (const d of drivers) last.delete(`${d.park_id}/${d.driver_id}`);
  };
  return { ...sim, move, forget };
}
