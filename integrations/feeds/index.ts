// Public surface of the feeds integration: the port, its HTTP client and the simulator.
export { FeedsClient, type FeedBatch, type Feeds, type PublishResult } from "./client.ts";
export { startFeedsSimulator, type Delivery, type FeedsSimulator } from "./simulator.ts";
