// Geobase: which region a position lies in. A local lookup (as the real geobase is a library
// with its data file), here over bounding boxes of the cities the service may be enabled for.

export interface RegionBox {
  readonly name: string;
  readonly south: number;
  readonly north: number;
  readonly west: number;
  readonly east: number;
}

/** City boxes; Moscow includes New Moscow. Boxes, not borders: good enough to pick the city. */
export const regions: readonly RegionBox[] = [
  { name: "moscow", south: 55.14, north: 56.02, west: 36.8, east: 37.97 },
  { name: "saint_petersburg", south: 59.63, north: 60.25, west: 29.42, east: 30.76 },
  { name: "kazan", south: 55.6, north: 55.95, west: 48.8, east: 49.4 },
  { name: "ekaterinburg", south: 56.7, north: 57.0, west: 60.4, east: 60.8 },
  { name: "novosibirsk", south: 54.8, north: 55.2, west: 82.7, east: 83.2 },
];

export const regionNames = regions.map((r) => r.name);

/**
 * The region containing the point, or undefined outside every known region.
 * @example regionOf(55.7558, 37.6173) // "moscow"
 */
export function regionOf(lat: number, lon: number): string | undefined {
  return regions.find((r) => lat >= r.south && lat <= r.north && lon >= r.west && lon <= r.east)?.name;
}

/** A point inside a region, for simulators and tests: its box's centre. */
export function pointIn(region: string): { lat: number; lon: number } {
  const r = regions.find((x) => x.name === region);
  if (!r) throw new Error(`unknown region ${region}`);
  return { lat: (r.south + r.north) / 2, lon: (r.west + r.east) / 2 };
}
