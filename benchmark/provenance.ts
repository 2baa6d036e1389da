/**
 * Software provenance: this tool's version and git commit (and whether the tree had local
 * changes), the Node.js version, and the versions of the libraries that shape the numbers or the
 * signatures.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { SoftwareProvenance } from "../protocol/envelope/schema.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LIBRARIES = ["@noble/curves", "ajv", "viem", "@sigstore/verify", "sigstore"];

function git(args: string[]): string | null {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

function packageVersion(name: string): string | null {
  const require = createRequire(import.meta.url);
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    // Packages whose "exports" hide package.json: walk node_modules directly.
    try {
      return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, "utf8")) as { version: string }).version;
    } catch {
      return null;
    }
  }
}

export const TOOL_NAME = "verifiable-benchmarks/vb";

export function toolVersion(): string {
  return (JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { version: string }).version;
}

let cached: SoftwareProvenance | undefined;
export function softwareProvenance(): SoftwareProvenance {
  if (cached) return cached;
  const commit = git(["rev-parse", "HEAD"]);
  const status = commit ? git(["status", "--porcelain", "--untracked-files=no"]) : null;
  const libraries: Record<string, string> = {};
  for (const name of LIBRARIES) {
    const v = packageVersion(name);
    if (v) libraries[name] = v;
  }
  cached = {
    tool: TOOL_NAME,
    tool_version: toolVersion(),
    git_commit: commit && /^[0-9a-f]{40}$/.test(commit) ? commit : null,
    git_dirty: status === null ? null : status.length > 0,
    node: process.version,
    libraries,
  };
  return cached;
}
