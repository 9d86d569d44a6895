// The driver-profiles and driver-categories caches over their simulators: a full fill in pages,
// incremental updates after, serving through an outage, readiness only once filled; and
// trackstory with geobase.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  driverProfilesCache,
  startDriverProfilesSimulator,
  DriverProfilesClient,
  type DriverProfilesSimulator,
} from "../../integrations/driverProfiles/index.ts";
import {
  driverCategoriesCache,
  startDriverCategoriesSimulator,
  DriverCategoriesClient,
  type DriverCategoriesSimulator,
} from "../../integrations/driverCategories/index.ts";
import { pointIn, regionOf, startTrackstorySimulator, TrackstoryClient, type TrackstorySimulator } from "../../integrations/trackstory/index.ts";
import { ChangeLog } from "../../integrations/changeLog.ts";
import { createIncrementalCache } from "../../integrations/incrementalCache.ts";
import { silentLogger } from "../support/harness.ts";
import { until } from "./support.ts";

let profilesSim: DriverProfilesSimulator;
let categoriesSim: DriverCategoriesSimulator;
let trackSim: TrackstorySimulator;
beforeAll(async () => {
  [profilesSim, categoriesSim, trackSim] = await Promise.all([startDriverProfilesSimulator(), startDriverCategoriesSimulator(), startTrackstorySimulator()]);
});
afterAll(async () => {
  await Promise.all([profilesSim.close(), categoriesSim.close(), trackSim.close()]);
});

const options = { timeoutMs: 300, retries: 0 };
const cacheOptions = { refreshMs: 20, logger: silentLogger, now: Date.now };

describe("change log", () => {
  it("pages changes in order, each key once with its latest value, and refuses a cursor it never gave", () => {
    const log = new ChangeLog<string>();
    for (const [k, v] of [
      ["a", "a1"],
      ["b", "b1"],
      ["a", "a2"],
      ["c", "c1"],
    ] as const)
      log.put(k, v);
    const first = log.after(undefined, 2)!;
    expect(first.items).toEqual(["b1", "a2"]); // a's first value was superseded
    expect(first.hasMore).toBe(true);
    const rest = log.after(first.cursor, 10)!;
    expect(rest.items).toEqual(["c1"]);
    expect(rest.hasMore).toBe(false);
    expect(log.after(rest.cursor, 10)!.items).toEqual([]);
    expect(log.after("999", 10)).toBeUndefined();
  });
});

describe("incremental cache", () => {
  it("refreshNow sees every change made before the call, even while a sync that read earlier is still running", async () => {
    const log = new ChangeLog<{ key: string }>();
    log.put("a", { key: "a" });
    const held: (() => void)[] = [];
    let reads = 0;
    const cache = createIncrementalCache({
      name: "test",
      source: {
        updates: async (cursor, limit) => {
          const page = log.after(cursor, limit)!; // read now, answered only when released
          reads++;
          await new Promise<void>((release) => held.push(release));
          return page;
        },
      },
      keyOf: (item) => item.key,
      refreshMs: 60_000,
      logger: silentLogger,
      now: Date.now,
    });
    const first = cache.refreshNow();
    await until(() => held.length === 1);
    log.put("b", { key: "b" }); // after the running sync read its page
    const second = cache.refreshNow();
    const third = cache.refreshNow(); // asked meanwhile too: shares the queued sync
    held.shift()!();
    await first;
    expect(cache.get("b")).toBeUndefined();
    await until(() => held.length === 1);
    held.shift()!();
    await Promise.all([second, third]);
    expect(cache.get("b")).toEqual({ key: "b" });
    expect(reads).toBe(2);
  });

  it("syncedFrom is when the last sync that reached the end began: a failed sync does not move it", async () => {
    const log = new ChangeLog<{ key: string }>();
    for (const key of ["a", "b", "c"]) log.put(key, { key });
    let clock = 1_000;
    let down = false;
    const cache = createIncrementalCache({
      name: "test",
      source: {
        updates: async (cursor, limit) => {
          clock += 10; // each page takes a while
          if (down) throw new Error("down");
          return log.after(cursor, limit)!;
        },
      },
      keyOf: (item) => item.key,
      refreshMs: 60_000,
      pageSize: 1,
      logger: silentLogger,
      now: () => clock,
    });
    expect(cache.syncedFrom()).toBeNull();
    await cache.refreshNow(); // four pages, begun at 1000
    expect(cache.syncedFrom()).toBe(1_000);
    down = true;
    await cache.refreshNow();
    expect(cache.syncedFrom()).toBe(1_000);
    down = false;
    const begins = clock;
    await cache.refreshNow();
    expect(cache.syncedFrom()).toBe(begins);
  });
});

describe("driver-profiles cache", () => {
  it("fills fully in pages, follows changes (a new licence, an unlinked profile), and maps a licence to every profile of the person", async () => {
    profilesSim.upsert(Array.from({ length: 2_500 }, (_, i) => ({ park_id: "p1", driver_id: `d${i}`, driver_license_pd_id: `lic${i % 1_000}` })));
    const cache = driverProfilesCache(new DriverProfilesClient({ baseUrl: profilesSim.url, ...options }), cacheOptions);
    await expect(cache.cache.check()).rejects.toThrow(/not filled/);
    cache.cache.start();
    await cache.cache.ready();
    await cache.cache.check();
    expect(cache.cache.size).toBe(2_500);
    expect(cache.licenceOf("p1/d1001")).toBe("lic1");
    expect(
      cache
        .profilesOf("lic1")
        .map((p) => p.driver_id)
        .sort(),
    ).toEqual(["d1", "d1001", "d2001"]);

    profilesSim.upsert([
      { park_id: "p1", driver_id: "d1", driver_license_pd_id: "lic-new" },
      { park_id: "p1", driver_id: "d2001", driver_license_pd_id: null },
      { park_id: "p2", driver_id: "x", driver_license_pd_id: "lic1" },
    ]);
    await until(() => cache.licenceOf("p2/x") === "lic1");
    expect(cache.licenceOf("p1/d1")).toBe("lic-new");
    expect(cache.licenceOf("p1/d2001")).toBeUndefined();
    expect(
      cache
        .profilesOf("lic1")
        .map((p) => `${p.park_id}/${p.driver_id}`)
        .sort(),
    ).toEqual(["p1/d1001", "p2/x"]);
    cache.cache.stop();
  });

  it("keeps serving the last copy while driver-profiles is down, and catches up when it is back", async () => {
    const cache = driverProfilesCache(new DriverProfilesClient({ baseUrl: profilesSim.url, ...options }), cacheOptions);
    cache.cache.start();
    await cache.cache.ready();
    profilesSim.faults.down = true;
    profilesSim.upsert([{ park_id: "p3", driver_id: "late", driver_license_pd_id: "lic-late" }]);
    await new Promise((r) => setTimeout(r, 100));
    await cache.cache.check(); // still ready: it was filled once
    expect(cache.licenceOf("p1/d5")).toBe("lic5");
    expect(cache.licenceOf("p3/late")).toBeUndefined();
    profilesSim.faults.down = false;
    await until(() => cache.licenceOf("p3/late") === "lic-late");
    cache.cache.stop();
  });

  it("a cache started while the source is down is not ready until a full fill completes", async () => {
    profilesSim.faults.down = true;
    const cache = driverProfilesCache(new DriverProfilesClient({ baseUrl: profilesSim.url, ...options }), cacheOptions);
    cache.cache.start();
    await new Promise((r) => setTimeout(r, 100));
    await expect(cache.cache.check()).rejects.toThrow(/driver_profiles_unavailable|503|down/);
    profilesSim.faults.down = false;
    await cache.cache.ready();
    expect(cache.licenceOf("p1/d7")).toBe("lic7");
    cache.cache.stop();
  });
});

describe("driver-categories cache", () => {
  it("knows each driver's categories, and none for an unknown driver", async () => {
    categoriesSim.set([
      { park_id: "p1", driver_id: "d1", categories: ["econom", "comfort"] },
      { park_id: "p1", driver_id: "d2", categories: ["cargo"] },
    ]);
    const cache = driverCategoriesCache(new DriverCategoriesClient({ baseUrl: categoriesSim.url, ...options }), cacheOptions);
    cache.cache.start();
    await cache.cache.ready();
    expect(cache.categoriesOf("p1/d1")).toEqual(["econom", "comfort"]);
    expect(cache.categoriesOf("p1/nobody")).toEqual([]);
    categoriesSim.set([{ park_id: "p1", driver_id: "d2", categories: ["cargo", "comfort_plus"] }]);
    await until(() => cache.categoriesOf("p1/d2").includes("comfort_plus"));
    cache.cache.stop();
  });
});

describe("trackstory and geobase", () => {
  it("positions come back for known drivers only, in bulk; geobase names the region", async () => {
    trackSim.move([
      { park_id: "p1", driver_id: "d1", ...pointIn("moscow") },
      { park_id: "p1", driver_id: "d2", lat: 59.94, lon: 30.31 },
    ]);
    const track = new TrackstoryClient({ baseUrl: trackSim.url, ...options });
    const found = await track.positions([
      ...Array.from({ length: 1_500 }, (_, i) => ({ park_id: "p9", driver_id: `x${i}` })),
      { park_id: "p1", driver_id: "d1" },
      { park_id: "p1", driver_id: "d2" },
    ]);
    expect([...found.keys()].sort()).toEqual(["p1/d1", "p1/d2"]);
    expect(regionOf(found.get("p1/d1")!.lat, found.get("p1/d1")!.lon)).toBe("moscow");
    expect(regionOf(59.94, 30.31)).toBe("saint_petersburg");
    expect(regionOf(54.19, 37.62)).toBeUndefined(); // Tula
  });
});
