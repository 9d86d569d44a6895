// Public surface of the driver-profiles integration: the port, its client, the simulator and the cache.
export { DriverProfile, DriverProfilesClient, type DriverBindings, type DriverProfileInput, type DriverProfiles, type UpdatesPage } from "./client.ts";
export { startDriverProfilesSimulator, type DriverProfilesSimulator } from "./simulator.ts";
export { driverProfilesCache, type DriverProfilesCache, type ProfileRef } from "./cache.ts";
