// Public surface of the CRM integration: the tables port, its Postgres implementation and the simulator.
export { DistributionRow, PromocodeRow, ResultDay, ResultRow, type CrmTables, type NewDriverRow } from "./tables.ts";
export { postgresCrm } from "./postgres.ts";
export {
  crmSimulator,
  type CrmFaults,
  type CrmSettings,
  type CrmSimulator,
  type CrmSimulatorOptions,
  type CrmSnapshot,
  type CrmTick,
  type Mentor,
} from "./simulator.ts";
