/**
 * The prover data endpoint's leaf response (`GET /v1/batches/:id/leaves/:index`, written by
 * prover/server/data-wire.ts) as its readers take it: the record to re-encode into its leaf hash
 * and the Merkle proof of that leaf. Operators, `vb receipt` and the explorer's in-browser check
 * all parse it here; the root the response carries is deliberately not returned: a reader checks
 * the proof against the root it reads from the chain.
 *
 * Every field is checked; a bad one throws LeafFormatError naming it. Runs in browsers too (the
 * explorer bundles it with a Buffer shim).
 */
import type { Hex } from "viem";
import { FieldError } from "../errors.ts";
import type { InferenceRecord } from "./leaf.ts";

/** A proof record id as the prover hands them out: "rec_" and 128 random bits in hex. */
export const RECORD_ID_PATTERN = /^rec_[0-9a-f]{32}$/;

export class LeafFormatError extends FieldError {
  override name = "LeafFormatError";
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

/** Parses the data endpoint's leaf response; throws LeafFormatError naming the bad field. */
export function parseLeafResponse(json: unknown): { record: InferenceRecord; merkleProof: Hex[] } {
  const body = object(json, "leaf");
  const proof = body.merkle_proof;
  if (!Array.isArray(proof) || proof.some((p) => typeof p !== "string" || !HEX32.test(p))) fail("merkle_proof", "must be an array of bytes32 hex");
  const r = object(body.record, "record");
  if (typeof r.model !== "string" || r.model === "") fail("record.model", "must be a non-empty string");
  const tokens = (value: unknown, field: string): number[] => {
    if (!Array.isArray(value) || value.some((t) => !Number.isInteger(t) || t < 0 || t > 0xffffffff)) fail(field, "must be an array of uint32");
    return value as number[];
  };
  const sampling = object(r.sampling, "record.sampling");
  const toploc = object(r.toploc, "record.toploc");
  if (typeof r.seed !== "string" || !/^[0-9]{1,20}$/.test(r.seed)) fail("record.seed", "must be a decimal string");
  const proofs = toploc.proofs;
  if (!Array.isArray(proofs) || proofs.length === 0 || proofs.some((p) => typeof p !== "string")) fail("record.toploc.proofs", "must be a non-empty array of base64 strings");
  const num = (value: unknown, field: string): number => {
    if (typeof value !== "number" || !Number.isFinite(value)) fail(field, "must be a number");
    return value as number;
  };
  return {
    merkleProof: proof as Hex[],
    record: {
      model: r.model as string,
      promptTokens: tokens(r.prompt_tokens, "record.prompt_tokens"),
      outputTokens: tokens(r.output_tokens, "record.output_tokens"),
      sampling: {
        temperature: num(sampling.temperature, "record.sampling.temperature"),
        topP: num(sampling.top_p, "record.sampling.top_p"),
        maxTokens: num(sampling.max_tokens, "record.sampling.max_tokens"),
        // The token sampler's version: version 1 leaves hash without it, so it is left out for them.
        ...(sampling.sampler === undefined || sampling.sampler === 1 ? {} : { sampler: num(sampling.sampler, "record.sampling.sampler") }),
      },
      seed: BigInt(r.seed as string),
      proofs: (proofs as string[]).map((p) => new Uint8Array(Buffer.from(p, "base64"))),
      proofParams: { topk: num(toploc.topk, "record.toploc.topk"), decodeBatchSize: num(toploc.decode_batch_size, "record.toploc.decode_batch_size") },
    },
  };
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(field, "must be an object");
  return value as Record<string, unknown>;
}
function fail(field: string, problem: string): never {
  throw new LeafFormatError(`${field} ${problem}`, field);
}
