// Public surface of the trackstory integration: the port, its client, the simulator and geobase.
export { Position, TrackstoryClient, type Trackstory } from "./client.ts";
export { startTrackstorySimulator, type TrackstorySimulator } from "./simulator.ts";
export { pointIn, regionNames, regionOf, regions, type RegionBox } from "./geobase.ts";
