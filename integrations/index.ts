// Public surface shared by all partner integrations: typed errors, the JSON client and the simulator base.
export * from "./errors.ts";
export { createJsonClient, type HttpMethod, type JsonClient, type JsonClientOptions, type PartnerClientOptions, type RequestOptions } from "./http.ts";
export { noFaults, startSimulator, type FaultSwitches, type Simulator, type SimulatorOptions } from "./simulator.ts";
