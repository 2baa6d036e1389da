/**
 * The HTML shell of every report: one self-contained file (uPlot's script and stylesheet inlined
 * from node_modules, no network), a header, sections of escaped HTML, and the charts' data as a
 * JSON block that the inlined client script draws.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ChartSpec } from "./charts.ts";
import { CLIENT_SCRIPT } from "./client.ts";

let assets: { js: string; css: string } | undefined;
function uplotAssets(): { js: string; css: string } {
  if (!assets) {
    const dir = join(dirname(createRequire(import.meta.url).resolve("uplot")), "");
    assets = { js: readFileSync(join(dir, "uPlot.iife.min.js"), "utf8"), css: readFileSync(join(dir, "uPlot.min.css"), "utf8") };
  }
  return assets;
}

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** JSON inside <script>: no "<" may close the element early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

export function htmlTable(rows: string[][], classes: (string | undefined)[] = []): string {
  const [head, ...body] = rows;
  const tr = (r: string[], tag: string, cls?: string) => `<tr${cls ? ` class="${escapeHtml(cls)}"` : ""}>${r.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join("")}</tr>`;
  return `<table><thead>${tr(head!, "th")}</thead><tbody>${body.map((r, i) => tr(r, "td", classes[i])).join("")}</tbody></table>`;
}

export interface PageSection {
  title: string;
  /** Already-escaped HTML. */
  html: string;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 8px 0; }
th, td { border-bottom: 1px solid #eee; padding: 3px 10px; text-align: right; } th:first-child, td:first-child { text-align: left; }
tr.regression td { background: #fde2e1; } tr.improvement td { background: #e3f6e3; } tr.noise td, tr.unconfirmed td { color: #777; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 16px; }
.chart { min-height: 300px; } .meta { color: #555; } .warn { color: #a15c00; }
`;

export function page(title: string, subtitle: string, sections: PageSection[], charts: (ChartSpec | null)[]): string {
  const drawn = charts.filter((c): c is ChartSpec => c !== null);
  const { js, css } = uplotAssets();
  const chartHtml = drawn.length ? `<h2>Charts</h2><div class="charts">${drawn.map((c) => `<div class="chart" id="chart-${escapeHtml(c.id)}"></div>`).join("")}</div>` : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="verifiable-benchmarks vb report">
<title>${escapeHtml(title)}</title>
<style>${css}</style><style>${STYLE}</style></head>
<body data-charts="0">
<h1>${escapeHtml(title)}</h1><p class="meta">${escapeHtml(subtitle)}</p>
${sections.map((s) => `<h2>${escapeHtml(s.title)}</h2>${s.html}`).join("\n")}
${chartHtml}
<script id="vb-data" type="application/json">${scriptJson({ charts: drawn })}</script>
<script>${js}</script>
<script>${CLIENT_SCRIPT}</script>
</body></html>
`;
}
