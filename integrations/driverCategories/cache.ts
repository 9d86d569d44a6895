// The driver-categories cache: the tariff categories of each park driver.
import type { Logger } from "../../actors/logger.ts";
import { driverKey, type DriverKey } from "../driverKey.ts";
import { createIncrementalCache, type IncrementalCache } from "../incrementalCache.ts";
import type { DriverCategories, DriverCategoriesPort } from "./client.ts";

export interface DriverCategoriesCache {
  /** The driver's categories; empty for an unknown driver. */
  categoriesOf(driver: DriverKey): readonly string[];
  readonly cache: IncrementalCache<DriverCategories>;
}

export function driverCategoriesCache(source: DriverCategoriesPort, options: { refreshMs: number; logger: Logger; now: () => number }): DriverCategoriesCache {
  const cache = createIncrementalCache<DriverCategories>({
    name: "driver_categories",
    source,
    keyOf: (d) => driverKey(d.park_id, d.driver_id),
    ...options,
  });
  return { cache, categoriesOf: (driver) => cache.get(driver)?.categories ?? [] };
}
