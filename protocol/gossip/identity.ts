import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { InvalidMeshOptionError } from "./errors.ts";

/**
 * A node's libp2p identity, kept in a file so that its peer id survives restarts (peers and
 * bootstrap lists refer to it). The file holds the protobuf-encoded Ed25519 private key and is
 * created with mode 0600. This key only authenticates the transport; attestations are signed
 * with the operator's Ethereum signing key.
 */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (bytes) {
    try {
      return privateKeyFromProtobuf(new Uint8Array(bytes));
    } catch (error) {
      throw new InvalidMeshOptionError(`peer key file ${path} is not a libp2p private key: ${(error as Error).message}`, "peerKeyFile");
    }
  }
  const key = await generateKeyPair("Ed25519");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" });
  await chmod(path, 0o600);
  return key;
}
