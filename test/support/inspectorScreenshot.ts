// Takes docs/inspector.png: a whole instance with simulated cabinets, some traffic, and the
// inspector page in Chromium showing a cabinet after a booking, a past transition selected.
// Run: npx tsx test/support/inspectorScreenshot.ts
import path from "node:path";
import { chromium } from "playwright-core";
import { cabinetSpec, startCabinetHarness } from "../services/cabinets.support.ts";
import { TOKENS } from "./instance.ts";

const out = path.resolve(import.meta.dirname, "../../docs/inspector.png");
const h = await startCabinetHarness({
  CABINET_REPORT_HEARTBEAT_MS: "600000",
  CABINET_POLL_MS: "1000",
  CABINET_MISSED_POLLS: "3",
  CABINET_COMMAND_TIMEOUT_MS: "2000",
});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", headless: true });
try {
  await h.cabinet(cabinetSpec("CAB-1", { cells: 6, charged: 4, lat: 55.75, lon: 37.61 }));
  await h.cabinet(cabinetSpec("CAB-2", { cells: 4, charged: 2, lat: 55.76, lon: 37.62 }));
  const first = await h.book("CAB-1", { kind: "issue", count: 2, contractor_id: "tech-7", min_charge: 80 });
  await h.open("CAB-1", first.body.booking_id);
  await h.book("CAB-1", { kind: "return", count: 1, contractor_id: "tech-7" });
  const page = await browser.newPage({ viewport: { width: 1500, height: 1250 }, deviceScaleFactor: 1 });
  await page.goto(`${h.app.url}/inspector`);
  await page.fill("#token", TOKENS.admin);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#kinds tbody tr.kind");
  await page.click('#kinds tr.kind:has-text("cabinet")');
  await page.waitForSelector('#hosted a.chip:text("CAB-1")');
  await page.selectOption("#search-kind", "cabinet");
  await page.fill("#search-id", "CAB-1");
  await page.click("#search button[type=submit]");
  await page.waitForSelector("#chart g.st.active");
  await page.waitForSelector("#history li[data-seq]");
  const items = page.locator("#history li[data-seq]");
  await items.nth(2).click();
  await page.waitForSelector("#travel-banner:not(.hidden)");
  await page.screenshot({ path: out, fullPage: false });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await h.close();
}
