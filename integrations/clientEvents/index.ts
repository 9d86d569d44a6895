// Public surface of the client-events integration: the port, its HTTP client and the simulator.
export { clientEventsClient, DriverNotification, maxNotificationsPerPush, type ClientEventsClient } from "./client.ts";
export { startClientEventsSimulator, type ClientEventsSimulator, type DeliveredNotification } from "./simulator.ts";
