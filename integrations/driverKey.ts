// The key of a park driver profile, `<park_id>/<driver_id>`: how the driver caches index their
// copies and how the status stream keys its per-driver memory. Built once per status and reused,
// so every lookup hashes the same string instead of concatenating a new one.
export type DriverKey = string;

export const driverKey = (parkId: string, driverId: string): DriverKey => `${parkId}/${driverId}`;
