/**
 * A node's data folder holds what it must not leak (signed messages not yet on chain, its
 * libp2p key, records it will be judged by): folders are created 0700 and files 0600. level
 * creates its files with the process umask, so the node's start sets umask 077 first; a data
 * folder left by an older version is tightened on start, folders to 0700 and files to 0600.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** New files 0600 and folders 0700 from now on in this process (the nodes call it at start). */
export function restrictNewFiles(): void {
  process.umask(0o077);
}

/** Creates `path` (and missing parents) as 0700; with `tighten`, also everything already inside it. */
export function ensurePrivateDir(path: string, options: { tighten?: boolean } = {}): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  if (options.tighten) tightenTree(path);
}

function tightenTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) {
      if ((stat.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
      tightenTree(path);
    } else if ((stat.mode & 0o077) !== 0) {
      chmodSync(path, stat.mode & 0o700);
    }
  }
}
