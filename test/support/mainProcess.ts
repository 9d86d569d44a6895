// `npm start` as a child process (main.ts under tsx), its stdout and stderr gathered, for tests of
// what a real start prints and how it ends.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

export interface MainProcess {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** The exit code once it has exited. */
  exited: Promise<number | null>;
}

/** Partner and cluster variables of the test runner's own environment never leak into the child. */
const INHERITED_OUT = ["PARKS_URL", "FEEDS_URL", "NATS_URL", "AUTH_TOKENS", "SIMULATORS", "DATABASE_URL"];

export function spawnMain(env: Record<string, string>): MainProcess {
  const full: NodeJS.ProcessEnv = { ...process.env, PORT: "0", LOG_LEVEL: "info", DEMO_DATA: "false" };
  for (const key of INHERITED_OUT) delete full[key];
  const child = spawn(process.execPath, ["--import", "tsx", "main.ts"], { cwd: path.resolve(import.meta.dirname, "../.."), env: { ...full, ...env } });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}
