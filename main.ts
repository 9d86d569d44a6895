// `npm start`: one instance from the environment. Without DATABASE_URL and partner URLs it runs
// embedded: PGlite under ./.data, in-process transport, built-in simulators and demo data.
import { ConfigError, loadConfig, unsupportedRuntime, type Config, type Role } from "./config.ts";
import { startInstance, type Instance } from "./instance.ts";
import { createLogger } from "./actors/logger.ts";

const runtimeProblem = unsupportedRuntime();
if (runtimeProblem) {
  process.stderr.write(`${runtimeProblem}\n`);
  process.exit(1);
}

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
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else logger.error("start failed", { error: String(error), stack: (error as Error)?.stack });
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

/** Tokens are printed only when this start generated them; tokens from AUTH_TOKENS stay unnamed. */
function banner(config: Config, url: string): string {
  const token = (role: Role) => (config.generatedTokens ? config.tokens.get(role)?.[0] : `$${role.toUpperCase()}_TOKEN`);
  const tokens = config.generatedTokens
    ? ["  tokens (generated; set AUTH_TOKENS to choose them):", ...[...config.tokens].map(([role, [first]]) => `    ${role.padEnd(9)} ${first}`)]
    : ["  tokens: from AUTH_TOKENS (not printed; the commands below read them from $FLEET_TOKEN, $INTERNAL_TOKEN, $DRIVER_TOKEN)"];
  const mentorshipCurl = (method: string, path: string) =>
    `curl -s ${method}${url}/driver/v1/contractor-mentorship/v1${path} -H "Authorization: Bearer ${token("driver")}" ` +
    `-H 'X-YaTaxi-Park-Id: park-1' -H 'X-YaTaxi-Driver-Profile-Id: newbie-1'`;
  return [
    "",
    `fleet-actors ready at ${url} (${config.mode} mode)`,
    `  database: ${config.databaseUrl ? "postgres" : `embedded PGlite in ${config.dataDir}/pglite`}`,
    ...tokens,
    "  create a mailing:",
    `    curl -s -X POST ${url}/fleet/communications/v1/mailings -H "Authorization: Bearer ${token("fleet")}" ` +
      `-H 'X-Park-Id: park-1' -H 'X-Yandex-UID: 1001' -H 'Content-Type: application/json' ` +
      `-d '{"message":"Hello from the dispatcher","status":"online"}'`,
    "  charged accumulators in cabinets near the Kremlin (embedded: simulated cabinets over MQTT):",
    `    curl -s '${url}/scooter-accumulator/v1/cabinets?lat=55.75&lon=37.61' -H "Authorization: Bearer ${token("internal")}"`,
    "  join the mentorship programme as the demo newbie, then watch his contacts (the CRM simulator pairs him with mentor-1 within seconds):",
    `    ${mentorshipCurl("-X POST ", "/confirm")}`,
    `    ${mentorshipCurl("", "/contacts")}`,
    "",
    "",
  ].join("\n");
}
