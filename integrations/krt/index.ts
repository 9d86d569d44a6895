// Public surface of the KRT integration: the port, its client, the shared token and the simulator.
export { KrtClient, KrtSession, SessionStatus, type Krt, type KrtClientOptions } from "./client.ts";
export { KrtTokens, memoryTokenStore, type KrtToken, type TokenStore } from "./tokens.ts";
export { noKrtFaults, startKrtSimulator, type KrtCall, type KrtFaults, type KrtSimulator, type KrtSimulatorOptions } from "./simulator.ts";
