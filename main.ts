// `npm start`: one instance from the environment. Without DATABASE_URL and partner URLs it runs
// embedded: PGlite under ./.data, in-process transport, built-in simulators and demo data.
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { startInstance, type Instance } from "./instance.ts";
import { createLogger } from "./actors/logger.ts";

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const logger = createLogger({ level: config.logLevel, base: { instance: config.instanceId } });
let instance: Instance | undefined;
let stopping = false;

// Whatever escapes is logged and ends the process through the same bounded stop.
process.on("unhandledRejection", (reason) => fatal("unhandled rejection", reason));
process.on("uncaughtException", (error) => fatal("uncaught exception", error));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void stop(0));

try {
  instance = await startInstance(config, { logger });
} catch (error) {
  logger.error("start failed", { error: String(error), stack: (error as Error)?.stack });
  process.exit(1);
}
process.stdout.write(banner(config, instance.url));

function fatal(what: string, error: unknown): void {
  logger.error(`${what}; stopping`, { error: String(error), stack: (error as Error)?.stack });
  void stop(1);
}

/**
 * Drains and commits within STOP_TIMEOUT_MS; past it, or if the stop fails, exits with code 1
 * naming the actors whose turns could not be committed (they resume from their last commit).
 */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (!instance) process.exit(code);
  const running = instance;
  const deadline = setTimeout(() => {
    const unflushed = running.system.host.hosted().filter((cell) => !cell.isIdle());
    logger.error("stop did not finish in time; exiting", {
      stopTimeoutMs: config.stopTimeoutMs,
      unflushedActors: unflushed.length,
      examples: unflushed.slice(0, 10).map((cell) => cell.key),
    });
    process.exit(1);
  }, config.stopTimeoutMs);
  try {
    await running.stop();
  } catch (error) {
    logger.error("stop failed", { error: String(error) });
    code = 1;
  }
  clearTimeout(deadline);
  process.exit(code);
}

function banner(config: Config, url: string): string {
  const fleet = config.tokens.get("fleet");
  const tokens = [...config.tokens].map(([role, token]) => `    ${role.padEnd(9)} ${token}`).join("\n");
  const curl = fleet
    ? `curl -s -X POST ${url}/fleet/communications/v1/mailings -H 'Authorization: Bearer ${fleet}' ` +
      `-H 'X-Park-Id: park-1' -H 'X-Yandex-UID: 1001' -H 'Content-Type: application/json' ` +
      `-d '{"message":"Hello from the dispatcher","status":"online"}'`
    : "(no fleet token configured)";
  return [
    "",
    `fleet-actors ready at ${url}`,
    `  database: ${config.databaseUrl ? "postgres" : `embedded PGlite in ${config.dataDir}/pglite`}`,
    `  tokens${config.generatedTokens ? " (generated; set AUTH_TOKENS to choose them)" : ""}:`,
    tokens,
    "  create a mailing:",
    `    ${curl}`,
    ...(config.tokens.get("internal")
      ? [
          "  charged accumulators in cabinets near the Kremlin (embedded: simulated cabinets over MQTT):",
          `    curl -s '${url}/scooter-accumulator/v1/cabinets?lat=55.75&lon=37.61' -H 'Authorization: Bearer ${config.tokens.get("internal")}'`,
        ]
      : []),
    "",
    "",
  ].join("\n");
}
