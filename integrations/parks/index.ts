// Public surface of the parks integration: the port, its HTTP client and the simulator.
export { ParksClient, type DriverFilter, type DriverStatus, type Parks, type StatusFilter } from "./client.ts";
export { demoParks, startParksSimulator, type ParkDriver, type ParksSimulator } from "./simulator.ts";
