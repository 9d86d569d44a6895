// A NATS server of the test's own (JetStream, own port and store), to restart during a test
// without touching the shared one; optionally with a configuration file (accounts, users, TLS).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort, waitForPort } from "./ports.ts";
import { tmpdir } from "node:os";
import path from "node:path";

export interface PrivateNats {
  url: string;
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** @example const nats = await startPrivateNats({ config: "accounts { ... }" }) */
export async function startPrivateNats(options: { config?: string; scheme?: "nats" | "tls" } = {}): Promise<PrivateNats> {
  const port = await freePort();
  const store = mkdtempSync(path.join(tmpdir(), "fleet-nats-"));
  const configFile = path.join(store, "nats.conf");
  if (options.config) writeFileSync(configFile, options.config);
  const withConfig = options.config ? ["-c", configFile] : [];
  let proc: ChildProcess;
  const launch = async () => {
    proc = spawn("/usr/sbin/nats-server", [...withConfig, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store], { stdio: "ignore" });
    await waitForPort(port, "nats-server");
  };
  const halt = async () => {
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
  };
  await launch();
  return {
    url: `${options.scheme ?? "nats"}://127.0.0.1:${port}`,
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
