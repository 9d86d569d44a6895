// A NATS server of the test's own (JetStream, own port and store), to restart during a test
// without touching the shared one.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { freePort, waitForPort } from "./ports.ts";
import { tmpdir } from "node:os";
import path from "node:path";

export interface PrivateNats {
  url: string;
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const store = mkdtempSync(path.join(tmpdir(), "fleet-nats-"));
  let proc: ChildProcess;
  const launch = async () => {
    proc = spawn("/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store], { stdio: "ignore" });
    await waitForPort(port, "nats-server");
  };
  const halt = async () => {
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    restart: async (downMs = 1_000) => {
      await halt();
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    stop: async () => {
      await halt();
      rmSync(store, { recursive: true, force: true });
    },
  };
}
