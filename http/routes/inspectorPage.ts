// GET /inspector: the live state inspector, one self-contained page (HTML, CSS and a hand-written
// script inline; nothing from the network). The page holds no data: it asks for the admin token,
// keeps it in the tab's session storage and reads everything from /inspector/api (role admin).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Server } from "hyper-express";
import type { PlainRouteDoc } from "../openapi.ts";

export const inspectorPageRouteDocs: readonly PlainRouteDoc[] = [
  {
    method: "get",
    path: "/inspector",
    tag: "inspector",
    summary: "The live state inspector (a page; it asks for an admin token and reads /inspector/api)",
    answers: { 200: "the page" },
    produces: "text/html",
  },
];

const PAGE_DIR = path.join(import.meta.dirname, "../inspector");

/** page.html with page.css and page.js inlined: one document, nothing else to fetch. */
function inspectorPage(): string {
  const read = (name: string) => readFileSync(path.join(PAGE_DIR, name), "utf8");
  return read("page.html")
    .replace("/* page.css */", () => read("page.css"))
    .replace("/* page.js */", () => read("page.js"));
}

export function inspectorPageRoutes(app: Server): void {
  const page = inspectorPage();
  // Only the page's own inline script runs (by its hash), and it talks to this origin only.
  const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash("sha256").update(m[1]!).digest("base64")}'`);
  const policy = `default-src 'none'; script-src ${scripts.join(" ")}; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  app.get("/inspector", (_req, res) => {
    res.header("Content-Security-Policy", policy).header("Cache-Control", "no-store").header("Content-Type", "text/html; charset=utf-8").send(page);
  });
}
