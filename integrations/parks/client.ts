// The parks port (drivers of a park by filters), its HTTP contract and its client.
import { Schema } from "effect";
import { PartnerProtocolError } from "../errors.ts";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";

export const DriverStatus = Schema.Literals(["offline", "working", "online"]);
export type DriverStatus = typeof DriverStatus.Type;
export const StatusFilter = Schema.Literals(["working", "online"]);
export type StatusFilter = typeof StatusFilter.Type;

/** `POST /v1/parks/drivers/list` request body. */
export const ListDriversRequest = Schema.Struct({
  park_id: Schema.String,
  work_rule: Schema.optional(Schema.String),
  status: Schema.optional(StatusFilter),
  include_contractor_ids: Schema.optional(Schema.Array(Schema.String)),
  exclude_contractor_ids: Schema.optional(Schema.Array(Schema.String)),
  cursor: Schema.optional(Schema.NullOr(Schema.String)),
  limit: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })),
});
export type ListDriversRequest = typeof ListDriversRequest.Type;

export const ListDriversResponse = Schema.Struct({
  drivers: Schema.Array(Schema.Struct({ driver_id: Schema.String })),
  cursor: Schema.NullOr(Schema.String),
});
export type ListDriversResponse = typeof ListDriversResponse.Type;

/**
 * Which drivers of a park a mailing goes to. All given filters apply together; an absent or empty
 * contractor list does not restrict.
 */
export interface DriverFilter {
  readonly parkId: string;
  readonly workRule?: string;
  /** `working` keeps drivers on an order, `online` keeps drivers free for one. */
  readonly status?: StatusFilter;
  readonly includeContractorIds?: readonly string[];
  readonly excludeContractorIds?: readonly string[];
}

export interface Parks {
  /** Ids of every matching driver, sorted and unique. */
  listDrivers(filter: DriverFilter): Promise<string[]>;
}

/** @example const parks = new ParksClient({ baseUrl, timeoutMs: 2000, retries: 3 }); await parks.listDrivers({ parkId }) */
export class ParksClient implements Parks {
  readonly #http: JsonClient;
  readonly #pageSize: number;

  constructor(options: PartnerClientOptions & { readonly pageSize?: number }) {
    this.#http = createJsonClient({ ...options, system: "parks" });
    this.#pageSize = options.pageSize ?? 500;
  }

  async listDrivers(filter: DriverFilter): Promise<string[]> {
    const ids = new Set<string>();
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const body = toRequest(filter, cursor, this.#pageSize);
      const page: ListDriversResponse = await this.#http.request("POST", "/v1/parks/drivers/list", body, ListDriversResponse);
      for (const d of page.drivers) ids.add(d.driver_id);
      cursor = page.cursor;
      // A partner that hands back a cursor twice would keep us paging forever.
      if (cursor !== null && seen.has(cursor)) throw new PartnerProtocolError("parks", `cursor ${cursor} repeated`);
      if (cursor !== null) seen.add(cursor);
    } while (cursor !== null);
    return [...ids].sort();
  }
}

function toRequest(filter: DriverFilter, cursor: string | null, limit: number): ListDriversRequest {
  return {
    park_id: filter.parkId,
    ...(filter.workRule === undefined ? {} : { work_rule: filter.workRule }),
    ...(filter.status === undefined ? {} : { status: filter.status }),
    ...(filter.includeContractorIds?.length ? { include_contractor_ids: filter.includeContractorIds } : {}),
    ...(filter.excludeContractorIds?.length ? { exclude_contractor_ids: filter.excludeContractorIds } : {}),
    ...(cursor === null ? {} : { cursor }),
    limit,
  };
}
