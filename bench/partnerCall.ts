// Micro-bench: CPU of this process per partner call through the shared JSON client (PersonalClient.store),
// the personal simulator in a child process. `npx tsx bench/partnerCall.ts [calls] [inFlight]`
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PersonalClient, startPersonalSimulator } from "../integrations/personal/index.ts";
import { printResult, round } from "./scenario.ts";

if (process.argv.includes("--simulator") && process.send) {
  const sim = await startPersonalSimulator();
  process.send({ url: sim.url });
  process.on("disconnect", () => void sim.close().finally(() => process.exit(0)));
} else {
  const calls = Number(process.argv[2] ?? 20_000);
  const inFlight = Number(process.argv[3] ?? 16);
  const child = fork(fileURLToPath(import.meta.url), ["--simulator"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const url = await new Promise<string>((resolve) => child.once("message", (m) => resolve((m as { url: string }).url)));
  const client = new PersonalClient({ baseUrl: url, timeoutMs: 2_000, retries: 2 });
  const run = async (n: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) await client.store("phones", `+7900${String(next++ % 100_000).padStart(7, "0")}`);
      }),
    );
  };
  await run(calls / 4); // warm-up
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await run(calls);
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - t0) / 1000;
  printResult({
    bench: "partner_call",
    calls,
    in_flight: inFlight,
    calls_per_s: Math.round(calls / seconds),
    cpu_us_per_call: round((used.user + used.system) / calls, 1),
    user_us_per_call: round(used.user / calls, 1),
    system_us_per_call: round(used.system / calls, 1),
  });
  child.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
}
