// Embedded mode is friendly, production mode safe by default: a real backend needs AUTH_TOKENS
// (long, unique), never prints them, and starts a partner simulator only when SIMULATORS asks.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, unsupportedRuntime } from "../../config.ts";
import { TokenRoles } from "../../http/tokens.ts";
import { DATABASE_URL, eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";
import { spawnMain, type MainProcess } from "../support/mainProcess.ts";

const long = (c: string) => c.repeat(32);

describe("loadConfig", () => {
  it("embedded (no DATABASE_URL, no NATS_URL): tokens generated, every partner may be simulated", () => {
    const config = loadConfig({});
    expect(config.mode).toBe("embedded");
    expect(config.generatedTokens).toBe(true);
    expect([...config.tokens.keys()].sort()).toEqual(["admin", "driver", "fleet", "internal"]);
    expect(config.simulators.all).toBe(true);
  });

  it("production without AUTH_TOKENS: refused, naming the variable", () => {
    for (const backend of [{ DATABASE_URL: "postgres://db/x" }, { NATS_URL: "nats://n:4222" }])
      expect(() => loadConfig(backend)).toThrow(/AUTH_TOKENS: required when DATABASE_URL or NATS_URL is set/);
  });

  it("production tokens: at least 32 characters, one role each, never two roles sharing one; simulators off unless named", () => {
    const db = { DATABASE_URL: "postgres://db/x" };
    expect(() => loadConfig({ ...db, AUTH_TOKENS: `fleet=${long("a")},admin=short` })).toThrow(/token 1 of admin is shorter than 32/);
    expect(() => loadConfig({ ...db, AUTH_TOKENS: `fleet=${long("a")},admin=${long("a")}` })).toThrow(/used more than once/);
    expect(() => loadConfig({ ...db, AUTH_TOKENS: `fleet=${long("a")},fleet=${long("b")}` })).toThrow(/role fleet is given twice/);
    const config = loadConfig({ ...db, AUTH_TOKENS: `fleet=${long("a")}|${long("b")},admin=${long("c")}`, SIMULATORS: "krt,personal" });
    expect(config.tokens.get("fleet")).toEqual([long("a"), long("b")]);
    expect(config.generatedTokens).toBe(false);
    expect(config.simulators).toEqual({ all: false, names: new Set(["krt", "personal"]) });
    expect(loadConfig({ ...db, AUTH_TOKENS: `fleet=${long("a")}` }).simulators).toEqual({ all: false, names: new Set() });
  });

  it("embedded with AUTH_TOKENS: short tokens allowed (a local run), duplicates still refused", () => {
    expect(loadConfig({ AUTH_TOKENS: "fleet=f,admin=a" }).tokens.get("admin")).toEqual(["a"]);
    expect(() => loadConfig({ AUTH_TOKENS: "fleet=same,admin=same" })).toThrow(ConfigError);
  });

  it("a rejected value is never echoed: a password in DATABASE_URL stays out of the error", () => {
    let message = "";
    try {
      loadConfig({ DATABASE_URL: "postgres://u:hunter2secret@db x/y", LOG_LEVEL: "hunter2secret" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/DATABASE_URL/);
    expect(message).toMatch(/LOG_LEVEL/);
    expect(message).not.toContain("hunter2secret");
  });
});

describe("unsupportedRuntime", () => {
  it("Node 20 (ABI 115) runs; any other ABI is refused with the versions named", () => {
    expect(unsupportedRuntime({ node: "20.20.2", modules: "115" })).toBeUndefined();
    expect(unsupportedRuntime({ node: "22.12.0", modules: "127" })).toMatch(/Node 20 \(ABI 115\).*Node 22\.12\.0 \(ABI 127\)/);
  });
});

describe("TokenRoles", () => {
  it("every token of a role (rotation) maps to it; an unknown one, a prefix or an extension to none", () => {
    const roles = new TokenRoles(
      new Map([
        ["fleet", [long("a"), long("b")]],
        ["admin", [long("c")]],
      ]),
    );
    expect(roles.roleOf(long("a"))).toBe("fleet");
    expect(roles.roleOf(long("b"))).toBe("fleet");
    expect(roles.roleOf(long("c"))).toBe("admin");
    for (const other of ["", long("a").slice(1), `${long("a")}a`, long("d")]) expect(roles.roleOf(other)).toBeUndefined();
  });
});

describe("npm start in production mode", () => {
  const database = `modes_${randomBytes(4).toString("hex")}`;
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  const running: MainProcess[] = [];
  const start = (env: Record<string, string>) => {
    const run = spawnMain({ DATABASE_URL: url.toString(), ...env });
    running.push(run);
    return run;
  };
  beforeAll(async () => {
    await admin.unsafe(`create database ${database}`);
  });
  afterAll(async () => {
    for (const run of running) if (run.child.exitCode === null) run.child.kill("SIGKILL");
    await Promise.all(running.map((r) => r.exited));
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  it("without AUTH_TOKENS: refuses to start, exit 1, says which variable", async () => {
    const run = start({});
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain("AUTH_TOKENS: required when DATABASE_URL or NATS_URL is set");
    expect(run.output()).not.toMatch(/ready at/);
  }, 60_000);

  it("with tokens but a partner URL missing and no SIMULATORS: refuses, naming the URL variable and how to simulate it", async () => {
    const run = start({ AUTH_TOKENS: `fleet=${TOKENS.fleet}` });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/PARKS_URL: required \(or SIMULATORS=parks to run its built-in simulator\)/);
  }, 60_000);

  it("with SIMULATORS=all: starts, warns for each simulated partner, and prints no token", async () => {
    const tokens = Object.entries(TOKENS).map(([r, t]) => `${r}=${t}`);
    const run = start({ AUTH_TOKENS: tokens.join(","), SIMULATORS: "all" });
    const ready = await eventually(() => run.output().match(/ready at (http:\/\/\S+)/)?.[1], 60_000);
    const res = await fetch(`${ready}/fleet/communications/v1/templates`, {
      headers: { authorization: `Bearer ${TOKENS.fleet}`, "x-park-id": "park-1", "x-yandex-uid": "1001" },
    });
    expect(res.status).toBe(200);
    expect(run.output()).toMatch(/"msg":"starting a built-in simulator in place of a partner".*"partner":"krt"/);
    for (const token of Object.values(TOKENS)) expect(run.output()).not.toContain(token);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  }, 60_000);
});
