// `npm start` (embedded) for mentorship: the banner's confirm curl for the demo newbie, then its
// contacts curl, show the matching reach `initialized` with the mentor's name and a WhatsApp link.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "./support/harness.ts";
import { spawnMain, type MainProcess } from "./support/mainProcess.ts";

const dataDir = mkdtempSync(path.join(tmpdir(), "fleet-mentorship-"));
let run: MainProcess | undefined;

afterAll(async () => {
  if (run && run.child.exitCode === null) {
    run.child.kill("SIGTERM");
    await run.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** A printed curl as fetch would send it: its method, URL and headers. */
function parseCurl(line: string) {
  const url = line.match(/(http:\/\/\S+)/)![1]!;
  const headers = Object.fromEntries([...line.matchAll(/-H ["']([^:]+): ([^"']+)["']/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
  return { method: line.includes("-X POST") ? "POST" : "GET", url, headers };
}

describe("embedded mode - mentorship demo", () => {
  it("the banner's confirm curl, then its contacts curl: the demo newbie is paired with mentor-1 within seconds", async () => {
    run = spawnMain({ DEMO_DATA: "true", DATA_DIR: dataDir, LOG_LEVEL: "warn" });
    await eventually(() => run!.output().match(/ready at (http:\/\/\S+)/)?.[1], 60_000);
    const confirmLine = run.output().match(/curl .*\/contractor-mentorship\/v1\/confirm.*$/m)![0];
    const contactsLine = run.output().match(/curl .*\/contractor-mentorship\/v1\/contacts.*$/m)![0];

    const confirm = parseCurl(confirmLine);
    const confirmed = await fetch(confirm.url, { method: confirm.method, headers: confirm.headers });
    expect(confirmed.status).toBe(200);
    const { matching_id } = (await confirmed.json()) as { matching_id: string };

    const contacts = parseCurl(contactsLine);
    const item = await eventually(async () => {
      const body = (await (await fetch(contacts.url, { headers: contacts.headers })).json()) as { items: { status: string }[] };
      return body.items.find((i) => i.status === "initialized");
    }, 30_000);
    expect(item).toMatchObject({
      matching_id,
      role: "newbie",
      counterpart: { park_id: "park-1", driver_id: "mentor-1", name: "Anna Mentorova", whatsapp: "https://wa.me/79160000002" },
      unread: 1,
    });
  }, 120_000);
});
