export * from "./errors.ts";
export * from "./types.ts";
export { assertCanonicalSignature, compactSignatureProblem, malleatedSignature, signatureProblem, SECP256K1_HALF_N, SECP256K1_N } from "./canonical.ts";
export {
  hashRegistration,
  hashAttestation,
  hashDisputeVote,
  signRegistration,
  signAttestation,
  signDisputeVote,
  recoverAttestationSigner,
  recoverDisputeVoteSigner,
  toCompactSignature,
  fromCompactSignature,
  sortBySigner,
  type CompactSignature,
  type SignedBy,
} from "./sign.ts";
