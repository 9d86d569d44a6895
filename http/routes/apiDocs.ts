// The API described for its users: GET /openapi.json (OpenAPI 3.1) and GET /docs (the same as a
// page), public, built once from the routes the server registered (none can be added after listen).
import type { Server } from "hyper-express";
import { renderApiPage } from "../apiPage.ts";
import { openApiDocument, type PlainRouteDoc } from "../openapi.ts";
import type { CatalogEntry } from "../route.ts";
import { inspectorPageRouteDocs } from "./inspectorPage.ts";
import { opsRouteDocs } from "./ops.ts";

const apiDocsRouteDocs: readonly PlainRouteDoc[] = [
  {
    method: "get",
    path: "/openapi.json",
    tag: "ops",
    summary: "This description, OpenAPI 3.1",
    answers: { 200: "the document" },
    produces: "application/json",
  },
  { method: "get", path: "/docs", tag: "ops", summary: "This description as a page", answers: { 200: "the page" }, produces: "text/html" },
];

export function apiDocsRoutes(app: Server, catalog: readonly CatalogEntry[]): void {
  let document: ReturnType<typeof openApiDocument> | undefined;
  let page: string | undefined;
  const describe = () => (document ??= openApiDocument(catalog, [...opsRouteDocs, ...apiDocsRouteDocs, ...inspectorPageRouteDocs]));

  app.get("/openapi.json", (_req, res) => {
    res.json(describe());
  });

  app.get("/docs", (_req, res) => {
    page ??= renderApiPage(describe());
    // Nothing on the page may reach the network: inline style only, no script, no fetch.
    res.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'").header("Content-Type", "text/html; charset=utf-8").send(page);
  });
}
