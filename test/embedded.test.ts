// `npm start` on a fresh data folder: the printed URL and token work, and a mailing gets sent.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "./support/harness.ts";

let child: ChildProcess | undefined;
const dataDir = mkdtempSync(path.join(tmpdir(), "fleet-embedded-"));

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe("embedded mode", () => {
  it("npm start - boots with PGlite and simulators, prints a working URL, token and curl", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", DATA_DIR: dataDir, LOG_LEVEL: "warn" };
    for (const key of ["DATABASE_URL", "AUTH_TOKENS", "PARKS_URL", "FEEDS_URL"]) delete env[key];
    child = spawn(process.execPath, ["--max-semi-space-size=64", "--import", "tsx", "main.ts"], { cwd: path.resolve(import.meta.dirname, ".."), env });
    let output = "";
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));

    const url = await eventually(() => output.match(/ready at (http:\/\/\S+)/)?.[1], 60_000);
    const token = output.match(/^\s+fleet\s+(\S+)$/m)![1]!;
    expect(output).toContain("curl -s -X POST");

    expect((await fetch(`${url}/ready`)).status).toBe(200);
    // The printed curl, as a newcomer would paste it.
    const curl = output.match(/curl .*$/m)![0];
    const body = JSON.parse(curl.match(/-d '(.*)'$/)![1]!);
    const created = await fetch(`${url}/fleet/communications/v1/mailings`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "x-park-id": "park-1", "x-yandex-uid": "1001", "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(created.status).toBe(202);
    const { mailing_id } = (await created.json()) as { mailing_id: string };
    const mailing = await eventually(async () => {
      const res = await fetch(`${url}/fleet/communications/v1/mailings/${mailing_id}`, {
        headers: { authorization: `Bearer ${token}`, "x-park-id": "park-1", "x-yandex-uid": "1001" },
      });
      const json = (await res.json()) as { status: string; recipients_count: number };
      return json.status === "sent" ? json : undefined;
    }, 20_000);
    expect(mailing.recipients_count).toBeGreaterThan(0);
  }, 120_000);
});
