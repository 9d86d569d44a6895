// Public surface of the driver-categories integration: the port, its client, the simulator and the cache.
export { DriverCategories, DriverCategoriesClient, type DriverCategoriesPort } from "./client.ts";
export { startDriverCategoriesSimulator, type DriverCategoriesSimulator } from "./simulator.ts";
export { driverCategoriesCache, type DriverCategoriesCache } from "./cache.ts";
