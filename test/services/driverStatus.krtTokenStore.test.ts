// The KRT token shared through Postgres while KRT's token endpoint is slow, hangs or fails: no lock
// or transaction is held across the call (the feeds go on), two instances still ask KRT once, a
// claimer that hangs or died holds the refresh only for its lease, and a failed one lets go at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KrtToken } from "../../integrations/krt/index.ts";
import { postgresTokenStore } from "../../services/driverStatus/krtTokenStore.ts";
import type { Database } from "../../storage/database.ts";
import { driverStatusStatements, profileChanges, startOfFeed } from "../../storage/driverStatusRepository.ts";
import { eventually, runProjection, testDatabase, type TestDatabase } from "../support/harness.ts";

let db: TestDatabase;
let other: Database;
beforeAll(async () => {
  db = await testDatabase("krttok");
  other = await db.reopen();
});
afterAll(async () => {
  await db.drop();
});

/** A token call that answers only when the test says so; `called` resolves once KRT was asked. */
function slowTokenCall(token: string) {
  let answer!: () => void;
  let fail!: (error: Error) => void;
  let called!: () => void;
  const calls = { count: 0, called: new Promise<void>((r) => (called = r)) };
  const answered = new Promise<KrtToken>((resolve, reject) => {
    answer = () => resolve({ accessToken: token, expiresAt: Date.now() + 600_000 });
    fail = reject;
  });
  const obtain = () => {
    calls.count++;
    called();
    return answered;
  };
  return { obtain, calls, answer: () => answer(), fail: (error: Error) => fail(error) };
}

const storedToken = async (name: string) =>
  (await db.sql<{ access_token: string | null }[]>`select access_token from krt_tokens where name = ${name}`)[0]?.access_token;

describe("krt token store", () => {
  it("a slow KRT token call holds no lock or transaction: binds written meanwhile reach the profile feed at once", async () => {
    const krt = slowTokenCall("slow-1");
    const refreshing = postgresTokenStore(db.sql, { name: "slow" }).replace(undefined, Date.now(), krt.obtain);
    await krt.calls.called;
    await other.sql.begin((tx) =>
      runProjection(tx, (accepted) =>
        driverStatusStatements(
          tx,
          {
            krtIds: [{ driver_license_pd_id: "bound-meanwhile", deptrans_id: "1000000001", updated_at: new Date() }],
            sessions: [],
            connectivity: [],
          },
          accepted,
        ),
      ),
    );
    // The feed shows only rows below every open transaction's xid: a refresh holding one hid it.
    await eventually(async () => (await profileChanges(other.sql, startOfFeed, 100)).some((r) => r.driver_license_pd_id === "bound-meanwhile"));
    krt.answer();
    expect((await refreshing).accessToken).toBe("slow-1");
  });

  it("two instances refreshing at once ask KRT once; the second waits for the first's token", async () => {
    const first = slowTokenCall("once-1");
    const second = slowTokenCall("once-2");
    const a = postgresTokenStore(db.sql, { name: "once", pollMs: 20 }).replace(undefined, Date.now(), first.obtain);
    await first.calls.called;
    const b = postgresTokenStore(other.sql, { name: "once", pollMs: 20 }).replace(undefined, Date.now(), second.obtain);
    first.answer();
    expect([(await a).accessToken, (await b).accessToken]).toEqual(["once-1", "once-1"]);
    expect(second.calls.count).toBe(0);
  });

  it("a refresher whose KRT call hangs (or that died) holds the refresh only for its lease; its late token does not replace the newer one", async () => {
    const hung = slowTokenCall("hung-1");
    const healthy = slowTokenCall("hung-2");
    healthy.answer();
    const a = postgresTokenStore(db.sql, { name: "hung", leaseMs: 300, pollMs: 20 }).replace(undefined, Date.now(), hung.obtain);
    await hung.calls.called;
    const b = await postgresTokenStore(other.sql, { name: "hung", leaseMs: 300, pollMs: 20 }).replace(undefined, Date.now(), healthy.obtain);
    expect(b.accessToken).toBe("hung-2");
    hung.answer();
    expect((await a).accessToken).toBe("hung-1");
    expect(await storedToken("hung")).toBe("hung-2");
  });

  it("a failed KRT token call lets go of the refresh at once: the next caller asks KRT without waiting out the lease", async () => {
    const failing = slowTokenCall("failed-1");
    const store = postgresTokenStore(db.sql, { name: "failed", leaseMs: 600_000, pollMs: 20 });
    const a = store.replace(undefined, Date.now(), failing.obtain);
    await failing.calls.called;
    failing.fail(new Error("krt is down"));
    await expect(a).rejects.toThrow("krt is down");
    const next = slowTokenCall("failed-2");
    next.answer();
    expect((await postgresTokenStore(other.sql, { name: "failed", leaseMs: 600_000 }).replace(undefined, Date.now(), next.obtain)).accessToken).toBe(
      "failed-2",
    );
  });
});
