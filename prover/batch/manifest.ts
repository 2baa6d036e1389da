/**
 * The batch manifest: a small canonical JSON document that pins what a batch is besides its
 * root. Its keccak256 goes on chain next to the root (BatchManager.submitBatch's envelopeHash),
 * so a data URI that later serves a different leaf count, model or creation time is caught.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, type Hex } from "viem";

export interface BatchManifest {
  version: 1;
  root: Hex;
  leafCount: number;
  model: string;
  createdAt: string;
}

/** JSON with keys in a fixed order (the interface's order), no whitespace. */
export function canonicalManifest(manifest: BatchManifest): string {
  return JSON.stringify({
    version: manifest.version,
    root: manifest.root,
    leafCount: manifest.leafCount,
    model: manifest.model,
    createdAt: manifest.createdAt,
  });
}

export function manifestHash(manifest: BatchManifest): Hex {
  return bytesToHex(keccak_256(new TextEncoder().encode(canonicalManifest(manifest))));
}
