/**
 * The browser side of the explorer, built once at start-up with esbuild (in memory, nothing
 * written to disk, no build step): explorer/web/main.ts and what it imports, protocol/ code
 * included (the leaf hash and Merkle proof are recomputed in the browser with the very modules
 * the operators use). protocol/merkle uses Node's Buffer; the `buffer` package stands in for it.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { build } from "esbuild";

const WEB = path.join(import.meta.dirname, "web");

export interface WebAssets {
  "app.js": string;
  "app.css": string;
  "index.html": string;
}

export async function buildWebAssets(): Promise<WebAssets> {
  const result = await build({
    entryPoints: [path.join(WEB, "main.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    inject: [path.join(WEB, "buffer-shim.ts")],
    logLevel: "silent",
    legalComments: "none",
  });
  const js = result.outputFiles[0]!.text;
  const require = createRequire(import.meta.url);
  const uplotCss = await readFile(require.resolve("uplot/dist/uPlot.min.css"), "utf8");
  const css = `${uplotCss}\n${await readFile(path.join(WEB, "style.css"), "utf8")}`;
  const html = await readFile(path.join(WEB, "index.html"), "utf8");
  return { "app.js": js, "app.css": css, "index.html": html };
}
