/**
 * The batch manifest: a small canonical JSON document that pins everything about a batch that
 * is not in the root itself. Its keccak256 goes on chain next to the root, so a data URI that
 * later serves a different leaf count, model list or creation time is caught.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, type Hex } from "viem";

export interface BatchManifest {
  version: 1;
  root: Hex;
  leafCount: number;
  models: string[];
  createdAt: string;
}

/** JSON with keys in a fixed order (the interface's order), no whitespace. */
export function canonicalManifest(manifest: BatchManifest): string {
  return JSON.stringify({
    version: manifest.version,
    root: manifest.root,
    leafCount: manifest.leafCount,
    models: [...manifest.models],
    createdAt: manifest.createdAt,
  });
}

export function manifestHash(manifest: BatchManifest): Hex {
  return bytesToHex(keccak_256(new TextEncoder().encode(canonicalManifest(manifest))));
}
