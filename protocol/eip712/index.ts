export * from "./errors.ts";
export * from "./types.ts";
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
