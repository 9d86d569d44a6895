// A fake personal service: values and their ids kept in memory, one id space per kind of data.
import { randomBytes } from "node:crypto";
import type { Request, Response } from "hyper-express";
import { Schema } from "effect";
import { decodeBody, startSimulator, type Simulator } from "../simulator.ts";
import { BulkRetrieveRequest, BulkStoreRequest, IdRequest, PdKind, ValueRequest } from "./client.ts";
import { isE164 } from "./phone.ts";

export interface PersonalSimulator extends Simulator {
  /** Registers `value` under `id` (or a fresh id) as if it had been stored; returns the id. For fixtures and benches. */
  preload(kind: PdKind, value: string, id?: string): string;
  /** How many values of a kind are stored. */
  size(kind: PdKind): number;
}

const PreloadRequest = Schema.Struct({
  kind: PdKind,
  items: Schema.Array(Schema.Struct({ value: Schema.String, id: Schema.optional(Schema.String) })),
});

/**
 * Serves `POST /v1/<kind>/store|bulk_store|find|retrieve|bulk_retrieve` like personal, plus
 * `POST /__personal/preload` `{kind, items: [{value, id?}]}` for other processes.
 * Answers never echo a value they refuse, as the real service must not either.
 * @example const sim = await startPersonalSimulator(); const id = sim.preload("phones", "+79161234567")
 */
export async function startPersonalSimulator(options: { readonly port?: number } = {}): Promise<PersonalSimulator> {
  const ids = new Map<PdKind, Map<string, string>>(PdKind.literals.map((k) => [k, new Map()]));
  const values = new Map<PdKind, Map<string, string>>(PdKind.literals.map((k) => [k, new Map()]));

  const preload = (kind: PdKind, value: string, id?: string): string => {
    const known = ids.get(kind)!.get(value);
    if (known !== undefined) return known;
    const fresh = id ?? randomBytes(16).toString("hex");
    ids.get(kind)!.set(value, fresh);
    values.get(kind)!.set(fresh, value);
    return fresh;
  };

  const sim = await startSimulator({
    name: "personal",
    ...(options.port === undefined ? {} : { port: options.port }),
    routes: (app) => {
      app.post("/v1/:kind/store", async (req, res) => {
        const kind = kindOf(req, res);
        const body = kind && (await decodeBody(req, res, ValueRequest));
        if (!kind || !body) return;
        if (!storable(kind, body.value)) return refuseInvalidPhone(res);
        res.json({ id: preload(kind, body.value), value: body.value });
      });
      app.post("/v1/:kind/bulk_store", async (req, res) => {
        const kind = kindOf(req, res);
        const body = kind && (await decodeBody(req, res, BulkStoreRequest));
        if (!kind || !body) return;
        if (!body.items.every(({ value }) => storable(kind, value))) return refuseInvalidPhone(res);
        res.json({ items: body.items.map(({ value }) => ({ id: preload(kind, value), value })) });
      });
      app.post("/v1/:kind/find", async (req, res) => {
        const kind = kindOf(req, res);
        const body = kind && (await decodeBody(req, res, ValueRequest));
        if (!kind || !body) return;
        const id = ids.get(kind)!.get(body.value);
        if (id === undefined) return res.status(404).json({ code: "not_found", message: "no such value" });
        res.json({ id, value: body.value });
      });
      app.post("/v1/:kind/retrieve", async (req, res) => {
        const kind = kindOf(req, res);
        const body = kind && (await decodeBody(req, res, IdRequest));
        if (!kind || !body) return;
        const value = values.get(kind)!.get(body.id);
        if (value === undefined) return res.status(404).json({ code: "not_found", message: "no such id" });
        res.json({ id: body.id, value });
      });
      app.post("/v1/:kind/bulk_retrieve", async (req, res) => {
        const kind = kindOf(req, res);
        const body = kind && (await decodeBody(req, res, BulkRetrieveRequest));
        if (!kind || !body) return;
        const known = values.get(kind)!;
        res.json({ items: body.items.flatMap(({ id }) => (known.has(id) ? [{ id, value: known.get(id)! }] : [])) });
      });
      app.post("/__personal/preload", async (req, res) => {
        const body = await decodeBody(req, res, PreloadRequest);
        if (!body) return;
        res.json({ items: body.items.map((i) => ({ id: preload(body.kind, i.value, i.id) })) });
      });
    },
  });
  return { ...sim, preload, size: (kind) => ids.get(kind)!.size };
}

const storable = (kind: PdKind, value: string) => kind !== "phones" || isE164(value);

const refuseInvalidPhone = (res: Response) => res.status(400).json({ code: "invalid_phone", message: "phones are stored in E.164 form" });

function kindOf(req: Request, res: Response): PdKind | undefined {
  const kind = req.path_parameters.kind;
  if ((PdKind.literals as readonly string[]).includes(kind ?? "")) return kind as PdKind;
  res.status(404).json({ code: "unknown_kind", message: `personal keeps no ${kind}` });
  return undefined;
}
