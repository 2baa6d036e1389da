/**
 * BLS quorum certificates for BatchManager.attestBLS. The contract starts from the registry's
 * aggregate key in force at the batch's reference block (apk history entry `apkIndex`) and
 * subtracts the keys of the operators that did not sign, so a certificate names every other key
 * registered by that block (runtime/bls-key-directory.ts) as a non-signer.
 */
import type { Hex } from "viem";
import { aggregateG1, aggregateG2, blsCertificate, blsVerify, type BlsCertificateWords } from "../protocol/bls/index.ts";
import { FieldError } from "../protocol/errors.ts";
import type { BlsKeyDirectory } from "../runtime/bls-key-directory.ts";
import type { BlsPart } from "./quorum.ts";

export class CertificateError extends FieldError {
  override name = "CertificateError";
}

/**
 * The certificate of `signers` (their BLS parts) for `digest` at `refBlock`: the apk entry in
 * force then, every other key registered by then as a non-signer, and the aggregate signature,
 * checked here against the aggregate key the contract will compute.
 */
export async function buildCertificate(directory: BlsKeyDirectory, refBlock: bigint, digest: Hex, signers: readonly BlsPart[]): Promise<BlsCertificateWords> {
  const keys = await directory.keysAt(refBlock);
  if (keys.length === 0) throw new CertificateError(`no BLS key was registered by block ${refBlock}`, "refBlock");
  const inForce = new Set(keys.map((k) => k.keyHash.toLowerCase()));
  const signed = new Set(signers.map((s) => s.keyHash.toLowerCase()));
  for (const s of signers) {
    if (!inForce.has(s.keyHash.toLowerCase())) throw new CertificateError(`BLS key ${s.keyHash} is not in the aggregate key at block ${refBlock}`, "keyHash");
  }
  const nonSigners = keys.filter((k) => !signed.has(k.keyHash.toLowerCase())).map((k) => k.pubkey);
  const certificate = blsCertificate(keys.at(-1)!.apkIndex, signers.map((s) => ({ pubkeyG2: s.pubkeyG2, signature: s.signature })), nonSigners);
  const sigma = aggregateG1(signers.map((s) => s.signature));
  if (!blsVerify(digest, aggregateG1(signers.map((s) => s.pubkeyG1)), aggregateG2(signers.map((s) => s.pubkeyG2)), sigma)) {
    throw new CertificateError("the aggregate signature does not verify against the signers' aggregate key", "signature");
  }
  return certificate;
}
