// `npm start`: one instance from the environment. Without DATABASE_URL and partner URLs it runs
// embedded: PGlite under ./.data, in-process transport, built-in simulators and demo data.
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { startInstance } from "./instance.ts";

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const instance = await startInstance(config);
process.stdout.write(banner(config, instance.url));

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void instance.stop().then(() => process.exit(0));
  });
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
