// The API page (/docs): the OpenAPI document rendered as one self-contained HTML page, routes
// grouped by service, no script and nothing fetched from elsewhere.
import type { openApiDocument } from "./openapi.ts";

type Document = ReturnType<typeof openApiDocument>;
interface Operation {
  tags: string[];
  summary: string;
  security: { bearer?: string[] }[];
  parameters?: { name: string; in: string; required: boolean; description?: string; schema: unknown }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string }>;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const json = (value: unknown) => `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;

function roleOf(op: Operation): string {
  const roles = op.security.flatMap((s) => s.bearer ?? []);
  if (roles.length === 0) return "public";
  return op.security.some((s) => !s.bearer) ? `public (more with ${roles.join(", ")})` : roles.join(", ");
}

function parametersTable(op: Operation): string {
  if (!op.parameters?.length) return "";
  const rows = op.parameters.map(
    (p) =>
      `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td>${p.required ? "required" : "optional"}</td><td>${escapeHtml(p.description ?? "")}` +
      `<details><summary>schema</summary>${json(p.schema)}</details></td></tr>`,
  );
  return `<table><tr><th>parameter</th><th>in</th><th></th><th>what</th></tr>${rows.join("")}</table>`;
}

function operationSection(method: string, path: string, op: Operation): string {
  const body = op.requestBody
    ? `<details><summary>request body (JSON Schema)</summary>${json(op.requestBody.content["application/json"]?.schema)}</details>`
    : "";
  const statuses = Object.entries(op.responses)
    .map(([status, r]) => `<li class="s${status[0]}"><b>${status}</b> ${escapeHtml(r.description)}</li>`)
    .join("");
  return (
    `<section class="op"><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code> <span class="role">${escapeHtml(roleOf(op))}</span></h3>` +
    `<p>${escapeHtml(op.summary)}</p>${parametersTable(op)}${body}<ul class="statuses">${statuses}</ul></section>`
  );
}

const style = `body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#1d2330}
h2{border-bottom:2px solid #d8dce6;padding-bottom:.2rem;margin-top:2.5rem}.op{border:1px solid #d8dce6;border-radius:6px;padding:.4rem 1rem;margin:.8rem 0}
h3{font-size:1rem;margin:.4rem 0}.m{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;padding:0 .3rem}
.get{background:#2f74c0}.post{background:#2e9150}.put{background:#b5761a}.patch{background:#7a4fb0}.delete{background:#c23b3b}
.role{float:right;font-weight:normal;color:#5b6475}table{border-collapse:collapse;margin:.3rem 0}td,th{border-bottom:1px solid #eceef3;padding:.15rem .6rem;text-align:left;vertical-align:top}
pre{background:#f5f6f9;padding:.5rem;overflow:auto;font-size:13px}.statuses{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1.2rem}
.s2 b{color:#2e9150}.s4 b{color:#b5761a}.s5 b{color:#c23b3b}nav a{margin-right:1rem}`;

/**
 * The HTML page of an OpenAPI document.
 * @example res.send(renderApiPage(openApiDocument(catalog, opsRouteDocs)))
 */
export function renderApiPage(document: Document): string {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods as Record<string, Operation>)) {
      const tag = op.tags[0] ?? "other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationSection(method, path, op)]);
    }
  }
  const groups = [...byTag].map(([tag, sections]) => `<h2 id="${escapeHtml(tag)}">${escapeHtml(tag)}</h2>${sections.join("")}`).join("");
  const nav = [...byTag.keys()].map((tag) => `<a href="#${escapeHtml(tag)}">${escapeHtml(tag)}</a>`).join("");
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(document.info.title)} API</title><style>${style}</style></head>` +
    `<body><h1>${escapeHtml(document.info.title)} API</h1><p>${escapeHtml(document.info.description)}</p>` +
    `<p>The same as OpenAPI 3.1: <a href="/openapi.json">/openapi.json</a>.</p><nav>${nav}</nav>${groups}` +
    `<h2 id="schemas">shared schemas</h2>${Object.entries(document.components.schemas)
      .map(([name, schema]) => `<details><summary><code>${escapeHtml(name)}</code></summary>${json(schema)}</details>`)
      .join("")}</body></html>`
  );
}
