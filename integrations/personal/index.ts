// Public surface of the personal integration: the port, its HTTP client, the simulator and phone normalisation.
export { PersonalClient, PdKind, type Personal } from "./client.ts";
export { startPersonalSimulator, type PersonalSimulator } from "./simulator.ts";
export { isE164, normalizePhone } from "./phone.ts";
