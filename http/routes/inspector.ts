// The live state inspector's API (role admin), the page's only data source: actor kinds and
// where they are active, an actor's state (live, or from its snapshot when passivated), its
// machine as a graph, its history with time travel, the cluster, "what if", and a live feed of
// transitions across the cluster (server-sent events).
import { Schema } from "effect";
import type { Server } from "hyper-express";
import type { ActorKind } from "../../actors/ActorKind.ts";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import type { Inspection, InspectionRecord } from "../../actors/Inspection.ts";
import { listStoredActors, loadSnapshot, readJournal } from "../../storage/actorStore.ts";
import { badRequest, HttpError, notFound } from "../errors.ts";
import { componentSchema, type JsonSchema } from "../jsonSchema.ts";
import { machineGraph, activePaths } from "../inspector/machineGraph.ts";
import { history, restore, whatIf } from "../inspector/timeTravel.ts";
import { decode, route, streamRoute, type RouteDeps } from "../route.ts";

/** What the inspector reads of the cluster membership; absent in embedded mode. */
export interface InspectorCluster {
  status(): { members: readonly string[]; owned_shards: number; shard_count: number };
  shards(): { owners: Record<string, number[]>; handovers: readonly { event: string; shard: number; at: string }[] };
  ownerOf(type: string, id: string): string | undefined;
}

export interface InspectorDeps extends RouteDeps {
  system: ActorSystem;
  inspection: Inspection;
  instanceId: string;
  cluster: InspectorCluster | undefined;
}

/** The journal is replayed from an actor's first transition: at most this many. */
const REPLAY_LIMIT = 5_000;

const ActorParams = Schema.Struct({ type: Schema.NonEmptyString, id: Schema.NonEmptyString });
const KindParams = Schema.Struct({ type: Schema.NonEmptyString });
const HistoryQuery = Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 500 }))) });
const ActorsQuery = Schema.Struct({
  prefix: Schema.optional(Schema.String.check(Schema.isMaxLength(128))),
  limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 200 }))),
});
const FeedQuery = Schema.Struct({ kind: Schema.optional(Schema.NonEmptyString), id: Schema.optional(Schema.NonEmptyString) });
const WhatIfBody = Schema.Struct({
  event: Schema.StructWithRest(Schema.Struct({ type: Schema.NonEmptyString }), [Schema.Record(Schema.String, Schema.Unknown)]),
});

/** The `type` literal of an event Schema (`Schema.Struct({ type: Schema.Literal("book"), ... })`). */
const eventTypeOf = (schema: unknown): string | undefined =>
  (schema as { fields?: { type?: { literal?: unknown } } }).fields?.type?.literal as string | undefined;

export function inspectorRoutes(app: Server, deps: InspectorDeps): void {
  const kinds = new Map(deps.system.kinds.map((k) => [k.type, k]));
  const graphs = new Map<string, ReturnType<typeof machineGraph>>();
  const graphOf = (kind: ActorKind) => graphs.get(kind.type) ?? graphs.set(kind.type, machineGraph(kind.machine)).get(kind.type)!;
  const kindOf = (type: string) => kinds.get(type) ?? throwing(notFound(`actor kind ${type}`));
  const members = () => Math.max(1, deps.cluster?.status().members.length ?? 1);

  route(app, deps, {
    method: "get",
    path: "/inspector/api/kinds",
    role: "admin",
    doc: { summary: "Actor kinds with their active actors per instance, across the cluster" },
    handle: async () => {
      const answers = await deps.inspection.census(members());
      const instances = answers.map((a) => ({ instance: a.instance, active: a.active }));
      const items = [...kinds.values()].map((k) => ({
        type: k.type,
        version: k.version,
        active: Object.fromEntries(instances.map((i) => [i.instance, i.active[k.type] ?? 0])),
        total_active: instances.reduce((sum, i) => sum + (i.active[k.type] ?? 0), 0),
      }));
      return { status: 200, body: { instances: instances.map((i) => i.instance), items } };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/inspector/api/kinds/:type/machine",
    role: "admin",
    params: KindParams,
    doc: { summary: "A kind's machine as a graph (states, transitions with events and guards) and its events' JSON Schemas", errors: [404] },
    handle: async ({ params }) => {
      const kind = kindOf(params.type);
      const defs: Record<string, JsonSchema> = {};
      const events = (kind.events ?? []).flatMap((schema) => {
        const type = eventTypeOf(schema);
        return type ? [{ type, schema: componentSchema(schema, defs, "error") }] : [];
      });
      return { status: 200, body: { type: kind.type, version: kind.version, graph: graphOf(kind), events, defs } };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/inspector/api/kinds/:type/actors",
    role: "admin",
    params: KindParams,
    query: ActorsQuery,
    doc: { summary: "Actors of a kind: the active ones on each instance, and stored ones (passivated too), by id prefix", errors: [404] },
    handle: async ({ params, query }) => {
      const kind = kindOf(params.type);
      const prefix = query.prefix ?? "";
      const limit = query.limit ?? 50;
      const [live, stored] = await Promise.all([
        deps.inspection.hosted(kind.type, prefix, limit, members()),
        listStoredActors(deps.sql, kind.type, prefix, limit),
      ]);
      return {
        status: 200,
        body: {
          type: kind.type,
          live: live.sort((a, b) => a.instance.localeCompare(b.instance)),
          stored: stored.map((s) => ({ id: s.id, updated_at: new Date(s.updatedAt).toISOString() })),
        },
      };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/inspector/api/actors/:type/:id",
    role: "admin",
    params: ActorParams,
    doc: { summary: "An actor's state and context: live where it is hosted, else from its snapshot", errors: [404] },
    handle: async ({ params }) => {
      const kind = kindOf(params.type);
      const [live, stored, last] = await Promise.all([
        deps.inspection.lookup(params, members()),
        loadSnapshot(deps.sql, params.type, params.id),
        readJournal(deps.sql, params.type, params.id, 1),
      ]);
      if (!live && !stored) throw notFound(`actor ${params.type}/${params.id}`);
      const snapshot = live ?? (stored!.snapshot as { value: unknown; context: unknown });
      const state = live ? live.state : (snapshot as { value: unknown }).value;
      const lastEntry = last[0];
      return {
        status: 200,
        body: {
          type: kind.type,
          id: params.id,
          source: live ? "live" : "snapshot",
          instance: live?.instance ?? deps.cluster?.ownerOf(params.type, params.id) ?? deps.instanceId,
          version: live?.version ?? stored!.version,
          machine_version: stored?.machineVersion ?? kind.version,
          state,
          active_states: activePaths(state),
          context: live ? live.context : (snapshot as { context: unknown }).context,
          status: (stored?.snapshot as { status?: string } | undefined)?.status ?? "active",
          last_event: lastEntry ? { seq: lastEntry.seq, type: (lastEntry.event as { type?: string }).type, at: new Date(lastEntry.at).toISOString() } : null,
        },
      };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/inspector/api/actors/:type/:id/history",
    role: "admin",
    params: ActorParams,
    query: HistoryQuery,
    doc: { summary: "An actor's transitions from the journal, each with its context (rebuilt by replay) and the diff to the next", errors: [404] },
    handle: async ({ params, query }) => {
      const kind = kindOf(params.type);
      const entries = await readJournal(deps.sql, params.type, params.id, REPLAY_LIMIT);
      if (entries.length === 0) throw notFound(`history of ${params.type}/${params.id}`);
      const { replay, reason, items } = history(kind, params.id, entries);
      const limit = query.limit ?? 50;
      return { status: 200, body: { type: kind.type, id: params.id, replay, ...(reason ? { reason } : {}), items: items.slice(-limit).reverse() } };
    },
  });

  route(app, deps, {
    method: "post",
    path: "/inspector/api/actors/:type/:id/what-if",
    role: "admin",
    params: ActorParams,
    body: WhatIfBody,
    doc: {
      summary:
        "What an event would do to the actor (state, context diff, actions), computed on a copy of its snapshot with XState's pure transition; never applied",
      errors: [404, 409],
    },
    handle: async ({ params, body }) => {
      const kind = kindOf(params.type);
      const stored = await loadSnapshot(deps.sql, params.type, params.id);
      if (!stored) throw notFound(`actor ${params.type}/${params.id}`);
      const schema = kind.events?.find((s) => eventTypeOf(s) === body.event.type);
      const graph = graphOf(kind);
      if (!schema && !graph.events.includes(body.event.type))
        throw badRequest("invalid_request", `the ${kind.type} machine takes no event ${body.event.type}`, {
          fields: [{ path: "body.event.type", message: `expected one of ${graph.events.join(", ")}` }],
        });
      const event = schema ? decodeEvent(schema, body.event) : body.event;
      const persisted = stored.machineVersion === kind.version ? stored.snapshot : kind.migrate?.(stored.snapshot, stored.machineVersion);
      const snapshot = restore(kind.machine, persisted, params.id);
      if (!(snapshot.status === "active" && snapshot.can({ ...event, at: Date.now() } as never)))
        throw new HttpError(409, "event_not_accepted", `the actor's current state does not accept ${event.type}`, { state: snapshot.value });
      const result = whatIf(kind.machine, snapshot, { ...event, at: Date.now(), replyTo: "inspector-what-if" });
      return {
        status: 200,
        body: { type: kind.type, id: params.id, event, validated: schema !== undefined, from: snapshot.value, version: stored.version, ...result },
      };
    },
  });

  route(app, deps, {
    method: "get",
    path: "/inspector/api/cluster",
    role: "admin",
    doc: { summary: "The cluster: members, shards per member, recent handovers, active actors per instance" },
    handle: async () => {
      const census = await deps.inspection.census(members());
      const instances = census.map((a) => ({
        instance: a.instance,
        active: a.active,
        handovers: (a.about as { handovers?: unknown } | undefined)?.handovers ?? [],
      }));
      if (!deps.cluster)
        return { status: 200, body: { mode: "embedded", instance: deps.instanceId, members: [deps.instanceId], shard_count: 1, shards: {}, instances } };
      const status = deps.cluster.status();
      return {
        status: 200,
        body: {
          mode: "cluster",
          instance: deps.instanceId,
          members: status.members,
          shard_count: status.shard_count,
          shards: deps.cluster.shards().owners,
          instances,
        },
      };
    },
  });

  streamRoute(app, deps, {
    path: "/inspector/api/feed",
    role: "admin",
    query: FeedQuery,
    doc: {
      summary: "Live transitions of actors on every instance (server-sent events, `data:` one JSON record each), filterable by kind and id; sampled under load",
      produces: "text/event-stream",
    },
    open: ({ query }, res) => {
      const sse = res.sse!;
      res.header("Cache-Control", "no-store").header("X-Accel-Buffering", "no");
      res.header("Content-Type", "text/event-stream");
      sse.open();
      const stop = deps.inspection.watch({ type: query.kind, id: query.id }, (record: InspectionRecord) => {
        if (sse.active) sse.send("transition", JSON.stringify(record));
      });
      const keepAlive = setInterval(() => sse.active && sse.comment("ping"), 15_000);
      res.once("close", () => {
        clearInterval(keepAlive);
        stop();
      });
    },
  });
}

function throwing(error: Error): never {
  throw error;
}

/** Decodes an event with its Schema; a failure names its fields under `body.event`. */
function decodeEvent(schema: NonNullable<ActorKind["events"]>[number], event: unknown): { type: string } {
  try {
    return decode(schema as never, event, "body") as { type: string };
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    const fields = ((error.details as { fields?: { path: string; message: string }[] } | undefined)?.fields ?? []).map((f) => ({
      ...f,
      path: f.path.replace(/^body/, "body.event"),
    }));
    throw badRequest("invalid_request", `invalid event: ${fields.map((f) => f.path).join(", ")}`, { fields });
  }
}
