// The driver-categories port: the tariff categories each park driver works in (econom, comfort,
// ...), served as incremental updates by cursor. Its HTTP contract and client.
import { Schema } from "effect";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";
import type { UpdatesPage } from "../driverProfiles/client.ts";

export const DriverCategories = Schema.Struct({
  park_id: Schema.String,
  driver_id: Schema.String,
  categories: Schema.Array(Schema.String),
});
export type DriverCategories = typeof DriverCategories.Type;

/** `GET /v1/categories/updates?cursor=&limit=`: drivers whose categories changed after `cursor`. */
export const CategoriesPage = Schema.Struct({
  drivers: Schema.Array(DriverCategories),
  cursor: Schema.String,
  has_more: Schema.Boolean,
});

export interface DriverCategoriesPort {
  /** Drivers whose categories changed after `cursor`; absent cursor: every driver (a full load). */
  updates(cursor: string | undefined, limit: number): Promise<UpdatesPage<DriverCategories>>;
}

/** @example const categories = new DriverCategoriesClient({ baseUrl, timeoutMs: 2000, retries: 2 }) */
export class DriverCategoriesClient implements DriverCategoriesPort {
  readonly #http: JsonClient;

  constructor(options: PartnerClientOptions) {
    this.#http = createJsonClient({ ...options, system: "driver_categories" });
  }

  async updates(cursor: string | undefined, limit: number): Promise<UpdatesPage<DriverCategories>> {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor === undefined ? {} : { cursor }) });
    const page = await this.#http.request("GET", `/v1/categories/updates?${query}`, undefined, CategoriesPage);
    return { items: page.drivers, cursor: page.cursor, hasMore: page.has_more };
  }
}
