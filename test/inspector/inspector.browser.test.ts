// The inspector page in real Chromium (Debian's, driven by playwright-core): log in with the admin
// token, find a cabinet, see its statechart with the right states highlighted, watch a booking and
// an outage arrive live without reload, and travel back to the context before the booking.
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOKENS } from "../support/instance.ts";
import { eventually } from "../support/harness.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "../services/cabinets.support.ts";
import type { SimulatedCabinet } from "../../integrations/cabinet/index.ts";

// What the page's functions (run in the browser by page.evaluate / waitForFunction) read there.
declare const document: { querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null };
declare const sessionStorage: { length: number; getItem(key: string): string | null };

let h: CabinetHarness;
let browser: Browser;
let page: Page;
let device: SimulatedCabinet;

beforeAll(async () => {
  h = await startCabinetHarness({ CABINET_REPORT_HEARTBEAT_MS: "600000" });
  device = await h.cabinet(cabinetSpec("CAB-B1", { cells: 4, charged: 3, lat: 55.75, lon: 37.61 }));
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", headless: true });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const activeStates = () => page.$$eval("#chart g.st.active", (nodes) => nodes.map((n) => n.getAttribute("data-path")));

describe("inspector page in Chromium", () => {
  it("shows nothing before login and refuses a token of another role", async () => {
    await page.goto(`${h.app.url}/inspector`);
    await page.waitForSelector("#login-form");
    expect(await page.isVisible("#app")).toBe(false);
    expect(await page.textContent("body")).not.toContain("CAB-B1");
    await page.fill("#token", TOKENS.internal);
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#login-error")?.textContent?.includes("not an admin"));
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it("logs in, finds the cabinet, highlights its states, follows a booking and an outage live, travels back", async () => {
    await page.fill("#token", TOKENS.admin);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("#kinds tbody tr.kind");
    expect(await page.textContent("#kinds")).toContain("cabinet");
    expect(await page.evaluate(() => sessionStorage.getItem("fleet.inspector.token"))).toBe(TOKENS.admin);

    // The kind's active actors, per instance.
    await page.click('#kinds tr.kind:has-text("cabinet")');
    await page.waitForSelector('#hosted a.chip:text("CAB-B1")');
    expect(await page.textContent("#hosted")).toContain(`active on ${h.app.config.instanceId}: 1`);

    await page.selectOption("#search-kind", "cabinet");
    await page.fill("#search-id", "CAB-B1");
    await page.click("#search button[type=submit]");
    await page.waitForSelector('#chart g.st.active[data-path="registered.connectivity.online"]');
    expect(await activeStates()).toEqual(
      expect.arrayContaining(["registered", "registered.connectivity", "registered.connectivity.online", "registered.command.idle"]),
    );
    expect(await page.textContent("#a-meta")).toContain(h.app.config.instanceId);
    await page.waitForSelector("#a-live:text('live')");
    const firstSeq = Number(await page.getAttribute("#history li:first-child", "data-seq"));

    // A booking through the API: the history and the context follow without a reload.
    const booked = await h.book("CAB-B1", { kind: "issue", count: 1, contractor_id: "tech-b", min_charge: 50 });
    expect(booked.status).toBe(201);
    const bookingId = booked.body.booking_id as string;
    await page.waitForFunction((id) => document.querySelector("#context")?.textContent?.includes(id), bookingId);
    await page.waitForFunction(
      (seq) =>
        Number(document.querySelector("#history li:first-child")?.getAttribute("data-seq")) > seq &&
        document.querySelector("#history li:first-child")?.textContent?.includes("book"),
      firstSeq,
    );

    // The cabinet goes silent: the highlight moves to `unresponsive`, live.
    device.faults.silent = true;
    await page.waitForSelector('#chart g.st.active[data-path="registered.connectivity.unresponsive"]', { timeout: 10_000 });
    expect(await activeStates()).not.toContain("registered.connectivity.online");
    device.faults.silent = false;
    await page.waitForSelector('#chart g.st.active[data-path="registered.connectivity.online"]', { timeout: 10_000 });

    // Time travel: the transition before the booking shows the context without it.
    const bookItem = page.locator("#history li", { hasText: "book" }).first();
    const bookSeq = Number(await bookItem.getAttribute("data-seq"));
    await page.click(`#history li[data-seq="${bookSeq - 1}"]`);
    await page.waitForSelector("#travel-banner:not(.hidden)");
    expect(await page.textContent("#ctx-title")).toContain(`#${bookSeq - 1}`);
    expect(await page.textContent("#context")).not.toContain(bookingId);
    expect(await page.textContent("#past-diff")).toContain("bookings");
    expect(await page.$$eval("#chart g.st.pastactive", (n) => n.map((x) => x.getAttribute("data-path")))).toContain("registered.connectivity.online");
    await page.click(`#history li[data-seq="${bookSeq}"]`);
    await page.waitForFunction((id) => document.querySelector("#context")?.textContent?.includes(id), bookingId);
    await page.click("#travel-back");
    await page.waitForSelector("#travel-banner.hidden", { state: "attached" });

    // What if: a booking computed, never applied.
    await page.selectOption("#wi-event", "book");
    await page.fill('#wi-fields [name="booking_id"]', "what-if-b");
    await page.selectOption('#wi-fields [name="kind"]', '"issue"');
    await page.fill('#wi-fields [name="count"]', "1");
    await page.fill('#wi-fields [name="contractor_id"]', "tech-w");
    await page.fill('#wi-fields [name="min_charge"]', "10");
    await page.fill('#wi-fields [name="ttl_ms"]', "60000");
    await page.click("#whatif button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#wi-result")?.textContent?.includes("what-if-b"));
    const live = await h.app.call("GET", "/inspector/api/actors/cabinet/CAB-B1", { token: TOKENS.admin });
    expect(JSON.stringify(live.body.context)).not.toContain("what-if-b");

    // The live feed, filtered to cabinets: a booking shows up as it happens.
    await page.click("nav button[data-tab=feed]");
    await page.fill("#feed-kind", "cabinet");
    await page.click("#feed-apply");
    await page.waitForSelector("#feed-status:text('live')");
    await eventually(() => h.app.inspection.watched);
    const again = await h.book("CAB-B1", { kind: "issue", count: 1, contractor_id: "tech-f", min_charge: 50 });
    expect(again.status).toBe(201);
    await page.waitForSelector('#feed li[data-actor="cabinet/CAB-B1"]:has-text("book")');

    // The cluster view (embedded: one member holding everything).
    await page.click("nav button[data-tab=cluster]");
    await page.waitForSelector(`#cluster-members tr[data-member="${h.app.config.instanceId}"]`);
    expect(await page.textContent("#cluster-meta")).toContain("embedded");
  });

  it("log out forgets the token and the data", async () => {
    await page.click("#logout");
    await page.waitForLoadState("load");
    await page.waitForSelector("#login-form");
    expect(await page.evaluate(() => sessionStorage.getItem("fleet.inspector.token"))).toBeNull();
    expect(await page.isVisible("#app")).toBe(false);
    expect(await page.textContent("#app")).not.toContain("CAB-B1");
  });
});
