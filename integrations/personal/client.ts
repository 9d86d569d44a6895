// The personal port: personal data (phones, names, licences) exchanged for opaque ids and back,
// so that other services store and log only the ids. Its HTTP contract and its client.
import { Schema } from "effect";
import { PartnerRejectedError } from "../errors.ts";
import { coalesce } from "../coalesce.ts";
import { createJsonClient, type JsonClient, type PartnerClientOptions } from "../http.ts";

/** Kinds of personal data personal keeps; each has its own id space and routes `/v1/<kind>/...`. */
export const PdKind = Schema.Literals(["phones", "names", "emails", "driver_licenses"]);
export type PdKind = typeof PdKind.Type;

const Value = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1000));
const Id = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100));

/** `POST /v1/<kind>/store` (create or return the existing id) and `POST /v1/<kind>/find` (404 when never stored). */
export const ValueRequest = Schema.Struct({ value: Value });
/** `POST /v1/<kind>/retrieve`: 404 when the id is unknown. */
export const IdRequest = Schema.Struct({ id: Id });
/** `POST /v1/<kind>/bulk_retrieve`: unknown ids are left out of the answer. */
export const BulkRetrieveRequest = Schema.Struct({ items: Schema.Array(IdRequest).check(Schema.isMaxLength(1000)) });
/** `POST /v1/<kind>/bulk_store`: `store` of each value; one value refused (400) refuses the request. */
export const BulkStoreRequest = Schema.Struct({ items: Schema.Array(ValueRequest).check(Schema.isMinLength(1), Schema.isMaxLength(1000)) });

export const PdItem = Schema.Struct({ id: Schema.String, value: Schema.String });
export const BulkItems = Schema.Struct({ items: Schema.Array(PdItem) });

export interface Personal {
  /** The id of `value`, created on first use; the same value always gets the same id. Phones must be E.164. */
  store(kind: PdKind, value: string): Promise<string>;
  /** The id of `value` if it was ever stored, without storing it. */
  find(kind: PdKind, value: string): Promise<string | undefined>;
  /** The value behind an id, for display; undefined for an unknown id. */
  retrieve(kind: PdKind, id: string): Promise<string | undefined>;
  /** Values of several ids; unknown ids are absent from the map. */
  bulkRetrieve(kind: PdKind, ids: readonly string[]): Promise<Map<string, string>>;
}

/** Bulk stores out at once per kind; stores beyond them wait and leave together (see `coalesce`). */
const STORES_IN_FLIGHT = 4;
const STORES_PER_CALL = 100;

/**
 * Every call is a read or an idempotent store, so the JSON client retries transient failures.
 * Concurrent stores of a kind share `bulk_store` calls once a few are out, so a busy caller makes
 * a few partner calls per batch of requests instead of one each.
 * Values never appear in errors: a rejection carries the status, not the request.
 * @example const personal = new PersonalClient({ baseUrl, timeoutMs: 2000, retries: 2 });
 *          const phoneId = await personal.store("phones", "+79161234567")
 */
export class PersonalClient implements Personal {
  readonly #http: JsonClient;
  readonly #stores: Map<PdKind, (value: string) => Promise<string>>;

  constructor(options: PartnerClientOptions) {
    this.#http = createJsonClient({ ...options, system: "personal" });
    this.#stores = new Map(
      PdKind.literals.map((kind) => [
        kind,
        coalesce((values: string[]) => this.#bulkStore(kind, values), { maxInFlight: STORES_IN_FLIGHT, maxBatch: STORES_PER_CALL }),
      ]),
    );
  }

  store(kind: PdKind, value: string): Promise<string> {
    return this.#stores.get(kind)!(value);
  }

  /** The ids of `values`; when personal refuses the batch, each value is stored alone so that only the refused ones fail. */
  async #bulkStore(kind: PdKind, values: string[]): Promise<Map<string, string | Error>> {
    const ids = new Map<string, string | Error>();
    try {
      const out = await this.#http.request("POST", `/v1/${kind}/bulk_store`, { items: values.map((value) => ({ value })) }, BulkItems);
      for (const item of out.items) ids.set(item.value, item.id);
    } catch (error) {
      if (!(error instanceof PartnerRejectedError) || values.length === 1) throw error;
      const alone = await Promise.all(values.map((value) => this.#bulkStore(kind, [value]).catch((e: Error) => new Map([[value, e]]))));
      for (const answer of alone) for (const [value, id] of answer) ids.set(value, id);
    }
    return ids;
  }

  async find(kind: PdKind, value: string): Promise<string | undefined> {
    return absentOn404(async () => (await this.#http.request("POST", `/v1/${kind}/find`, { value }, PdItem)).id);
  }

  async retrieve(kind: PdKind, id: string): Promise<string | undefined> {
    return absentOn404(async () => (await this.#http.request("POST", `/v1/${kind}/retrieve`, { id }, PdItem)).value);
  }

  async bulkRetrieve(kind: PdKind, ids: readonly string[]): Promise<Map<string, string>> {
    const values = new Map<string, string>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 1000) {
      const items = unique.slice(i, i + 1000).map((id) => ({ id }));
      const out = await this.#http.request("POST", `/v1/${kind}/bulk_retrieve`, { items }, BulkItems);
      for (const item of out.items) values.set(item.id, item.value);
    }
    return values;
  }
}

async function absentOn404<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof PartnerRejectedError && error.status === 404) return undefined;
    throw error;
  }
}
