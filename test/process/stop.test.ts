// `npm start` as a process: SIGTERM ends it within STOP_TIMEOUT_MS even when the database hangs.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, eventually } from "../support/harness.ts";
import { PRODUCTION_TEST_ENV, TOKENS } from "../support/instance.ts";
import { spawnMain } from "../support/mainProcess.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";

const database = `stop_${randomBytes(4).toString("hex")}`;
const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
let proxy: TcpProxy;
let child: ChildProcess | undefined;

beforeAll(async () => {
  await admin.unsafe(`create database ${database}`);
  proxy = await startTcpProxy(Number(new URL(DATABASE_URL).port || 5432));
});
afterAll(async () => {
  if (child?.exitCode === null) child.kill("SIGKILL");
  await proxy.close();
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
});

describe("stopping the process", () => {
  it("SIGTERM with the database hanging exits within STOP_TIMEOUT_MS, code 1, saying how many actors it could not flush", async () => {
    const run = spawnMain({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${database}`,
      ...PRODUCTION_TEST_ENV,
      STOP_TIMEOUT_MS: "1500",
      ASK_TIMEOUT_MS: "500",
    });
    child = run.child;
    const url = await eventually(() => run.output().match(/ready at (http:\/\/\S+)/)?.[1], 60_000);

    proxy.freeze(); // connections stay open, nothing comes back: every query hangs
    const pending = fetch(`${url}/fleet/communications/v1/mailings`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKENS.fleet}`, "x-park-id": "park-1", "x-yandex-uid": "1001", "content-type": "application/json" },
      body: JSON.stringify({ message: "stuck" }),
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300)); // let the request reach its actor

    const signalled = Date.now();
    run.child.kill("SIGTERM");
    const code = await run.exited;
    const tookMs = Date.now() - signalled;
    await pending;

    expect(code).toBe(1);
    expect(tookMs).toBeLessThan(1500 + 2000); // the bound plus process scheduling, never the default 20 s
    expect(run.output()).toContain("stop did not finish in time");
    expect(run.output()).toMatch(/"unflushedActors":\d+/);
  }, 90_000);

  it("a start that fails (the database unreachable) logs why and exits 1, no unhandled rejection", async () => {
    const run = spawnMain({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere", ...PRODUCTION_TEST_ENV });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/"msg":"start failed"/);
    expect(run.output()).not.toContain("UnhandledPromiseRejection");
  }, 60_000);
});
