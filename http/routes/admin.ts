// Operator API (role admin): this instance's cluster view and the actors it hosts right now.
// It is the data side of the live inspector.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { route, type RouteDeps } from "../route.ts";

export interface ClusterView {
  members: readonly string[];
  owned_shards: number;
  shard_count: number;
}

const HostedQuery = Schema.Struct({ type: Schema.optional(Schema.NonEmptyString) });

export function adminRoutes(app: Server, deps: RouteDeps & { system: ActorSystem; instanceId: string; cluster: () => ClusterView | undefined }): void {
  route(app, deps, {
    method: "get",
    path: "/admin/v1/cluster",
    role: "admin",
    doc: { summary: "This instance's view of the cluster: mode, members, owned shards" },
    handle: async () => ({ status: 200, body: { instance: deps.instanceId, mode: deps.cluster() ? "cluster" : "embedded", ...deps.cluster() } }),
  });

  route(app, deps, {
    method: "get",
    path: "/admin/v1/actors",
    role: "admin",
    doc: { summary: "Actors hosted in this instance's memory, with state and version" },
    query: HostedQuery,
    handle: async ({ query }) => {
      const items = deps.system.host
        .hosted()
        .filter((c) => c.state === "active" && (query.type === undefined || c.address.type === query.type))
        .map((c) => ({ type: c.address.type, id: c.address.id, state: c.snapshot()?.value, version: c.snapshot()?.version }));
      return { status: 200, body: { instance: deps.instanceId, items } };
    },
  });
}
