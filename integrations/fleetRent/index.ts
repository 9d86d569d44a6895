// Public surface of the fleet-rent integration: the port, its HTTP client and the simulator.
export { fleetRentClient, Rental, type FleetRentClient } from "./client.ts";
export { startFleetRentSimulator, type FleetRentSimulator } from "./simulator.ts";
