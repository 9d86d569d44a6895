// A Mosquitto of the test's own (own port, TCP_NODELAY, no persistence), to stop and restart
// during a test without touching the shared one on 1883.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { freePort, waitForPort } from "./ports.ts";
import { tmpdir } from "node:os";
import path from "node:path";

export interface PrivateMosquitto {
  url: string;
  port: number;
  /** Stops the broker (clients see it go away). */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface PrivateMosquittoOptions {
  /** Lines for the listener (e.g. `cafile`, `certfile`, `keyfile`, `password_file`). */
  listener?: string[];
  /** `mqtts` for a TLS listener; `mqtt` by default. */
  scheme?: "mqtt" | "mqtts";
}

/** @example const broker = await startPrivateMosquitto(); env.MQTT_URL = broker.url */
export async function startPrivateMosquitto(options: PrivateMosquittoOptions = {}): Promise<PrivateMosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "fleet-mosquitto-"));
  const config = path.join(dir, "mosquitto.conf");
  const base = readFileSync(path.join(import.meta.dirname, "mosquitto.conf"), "utf8");
  writeFileSync(config, [base, `listener ${port} 127.0.0.1`, ...(options.listener ?? []), ""].join("\n"));
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn("/usr/sbin/mosquitto", ["-c", config], { stdio: "ignore" });
    await waitForPort(port, "mosquitto");
  };
  const stop = async () => {
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc!.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
  };
  await start();
  return {
    url: `${options.scheme ?? "mqtt"}://127.0.0.1:${port}`,
    port,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
