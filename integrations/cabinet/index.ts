// Public surface of the cabinet device integration: the port and its MQTT gateway, the protocol,
// the simulated cabinets and the embedded broker.
export { CabinetGateway, type CabinetDevices, type CabinetGatewayOptions, type UnsolicitedEvent } from "./client.ts";
export { CabinetNotRespondingError, CommandAbortedError, MqttUnavailableError } from "./errors.ts";
export {
  CabinetId,
  CellClosed,
  commandsTopic,
  eventsTopic,
  InventoryCommand,
  InventoryReport,
  UnlockCommand,
  UnlockResult,
  type DeviceEvent,
} from "./protocol.ts";
export {
  cabinetSpec,
  demoCabinets,
  noCabinetFaults,
  startCabinetSimulator,
  type CabinetFaults,
  type CabinetSimulator,
  type CabinetSpec,
  type SimulatedCabinet,
} from "./simulator.ts";
export { startEmbeddedBroker, type EmbeddedBroker } from "./broker.ts";
export { isTlsUrl, mqttConnectionOptions, type MqttAuth } from "./connection.ts";
