/**
 * The Merkle leaf for one proven inference. This encoding is a protocol spec: the Solidity
 * library contracts/libraries/InferenceLeaf.sol computes the same hash, and a leaf committed
 * on chain can only be opened by a record that encodes to exactly these bytes.
 *
 *   modelId      = keccak256(utf8(model))
 *   promptHash   = keccak256(promptTokens, each as a 4-byte big-endian uint32, concatenated)
 *   outputHash   = keccak256(outputTokens, same packing)
 *   samplingHash = keccak256(abi.encode(uint32 maxTokens, uint32 temperatureMicros, uint32 topPMicros))
 *                  for token sampler version 1 (records without a version), and
 *                  keccak256(abi.encode(uint32 maxTokens, uint32 temperatureMicros, uint32 topPMicros,
 *                  uint32 samplerVersion)) for version 2 and later (protocol/sampler), where
 *                  xMicros = x * 1e6, which must be an exact integer (x a multiple of 1e-6)
 *   proofsHash   = keccak256(abi.encode(uint32 topk, uint32 decodeBatchSize, bytes[] proofs))
 *                  where every proof is a TOPLOC proof of exactly 2 + 2 * topk bytes
 *
 *   struct InferenceLeaf { bytes32 modelId; bytes32 promptHash; bytes32 outputHash;
 *                          bytes32 samplingHash; uint64 seed; bytes32 proofsHash; }
 *
 *   leaf = keccak256(bytes.concat(keccak256(abi.encode(modelId, promptHash, outputHash,
 *                                                       samplingHash, seed, proofsHash))))
 *
 * The leaf is hashed twice, as OpenZeppelin's StandardMerkleTree does: a 64-byte inner node
 * (two concatenated hashes) can then never be passed off as a leaf (second preimage), because
 * a leaf preimage is a 32-byte hash of a 192-byte encoding.
 *
 * Ranges: tokens, maxTokens, topk and decodeBatchSize are uint32 (topk and decodeBatchSize at
 * least 1); seed is uint64; topP is in [0, 1]; temperature is >= 0 and its micros must fit a
 * uint32 (so up to 4294.967295). The model name must be non-empty, well-formed UTF-16 (a lone
 * surrogate would be encoded as U+FFFD and collide with other names). At least one proof.
 * Proof bytes are committed as given; their content is checked by TOPLOC verification, not here.
 *
 * Hashes are returned as lowercase 0x-hex (viem's Hex) throughout protocol/merkle.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, encodeAbiParameters, type Hex } from "viem";
import { bytes32ToHex } from "./bytes32.ts";
import { InvalidLeafError } from "./errors.ts";

export interface SamplingParams {
  /** >= 0, a multiple of 1e-6. */
  temperature: number;
  /** In [0, 1], a multiple of 1e-6. */
  topP: number;
  /** uint32. */
  maxTokens: number;
  /** Token sampler version (protocol/sampler); absent means 1, the version before it was recorded. */
  sampler?: number;
}

/** The TOPLOC parameters the proofs were built with. */
export interface ProofParams {
  topk: number;
  decodeBatchSize: number;
}

export type TokenIds = readonly number[] | Uint32Array;

/** One proven inference, as the prover reports it. */
export interface InferenceRecord {
  model: string;
  promptTokens: TokenIds;
  outputTokens: TokenIds;
  sampling: SamplingParams;
  /** uint64 sampling seed. */
  seed: bigint;
  /** TOPLOC proofs, one per chunk, each 2 + 2 * proofParams.topk bytes. */
  proofs: readonly Uint8Array[];
  proofParams: ProofParams;
}

/** The leaf struct, field for field as Solidity's InferenceLeaf. */
export interface InferenceLeafFields {
  modelId: Hex;
  promptHash: Hex;
  outputHash: Hex;
  samplingHash: Hex;
  seed: bigint;
  proofsHash: Hex;
}

export const UINT32_MAX = 0xffff_ffff;
export const UINT64_MAX = (1n << 64n) - 1n;
/** Fixed-point scale of temperature and topP: they are committed as integer millionths. */
export const MICROS = 1_000_000;

const LEAF_ABI = [
  { type: "bytes32" },
  { type: "bytes32" },
  { type: "bytes32" },
  { type: "bytes32" },
  { type: "uint64" },
  { type: "bytes32" },
] as const;
const SAMPLING_ABI = [{ type: "uint32" }, { type: "uint32" }, { type: "uint32" }] as const;
const VERSIONED_SAMPLING_ABI = [{ type: "uint32" }, { type: "uint32" }, { type: "uint32" }, { type: "uint32" }] as const;
const PROOFS_ABI = [{ type: "uint32" }, { type: "uint32" }, { type: "bytes[]" }] as const;

const utf8 = new TextEncoder();

function keccakHex(data: Uint8Array): Hex {
  return bytes32ToHex(keccak_256(data));
}

function abiKeccak(encoded: Hex): Hex {
  // viem encodes to hex; hash the bytes it stands for.
  return keccakHex(Buffer.from(encoded.slice(2), "hex"));
}

/** keccak256(utf8(model)). */
export function hashModelId(model: string, field = "model"): Hex {
  if (typeof model !== "string" || model.length === 0) {
    throw new InvalidLeafError(`${field} must be a non-empty string`, field);
  }
  if (/[\uD800-\uDFFF]/u.test(model)) {
    throw new InvalidLeafError(`${field} contains a lone UTF-16 surrogate, which has no UTF-8 encoding`, field);
  }
  return keccakHex(utf8.encode(model));
}

/** keccak256 of the tokens packed as 4-byte big-endian uint32s. */
export function hashTokens(tokens: TokenIds, field = "tokens"): Hex {
  if (!Array.isArray(tokens) && !(tokens instanceof Uint32Array)) {
    throw new InvalidLeafError(`${field} must be an array of uint32 token ids`, field);
  }
  const packed = new Uint8Array(4 * tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const t: unknown = tokens[i];
    if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t > UINT32_MAX) {
      throw new InvalidLeafError(`${field}[${i}] must be an integer in 0..${UINT32_MAX}, got ${String(t)}`, `${field}[${i}]`);
    }
    packed[4 * i] = t >>> 24;
    packed[4 * i + 1] = t >>> 16;
    packed[4 * i + 2] = t >>> 8;
    packed[4 * i + 3] = t;
  }
  return keccakHex(packed);
}

/**
 * value * 1e6 as an exact uint32. Accepted when value is the double nearest to a multiple of
 * 1e-6 (what parsing a decimal like "0.7" yields, at any magnitude), or when value * 1e6 lies
 * within 1e-9 of an integer (absorbs arithmetic noise such as 0.1 + 0.2).
 */
export function toMicros(value: number, field: string, max = UINT32_MAX / MICROS): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new InvalidLeafError(`${field} must be a finite number, got ${String(value)}`, field);
  }
  if (value < 0) throw new InvalidLeafError(`${field} must be >= 0, got ${value}`, field);
  if (value > max) throw new InvalidLeafError(`${field} must be <= ${max}, got ${value}`, field);
  const scaled = value * MICROS;
  const micros = Math.round(scaled);
  if (micros / MICROS !== value && Math.abs(scaled - micros) > 1e-9) {
    throw new InvalidLeafError(`${field} must be a multiple of 1e-6, got ${value}`, field);
  }
  if (micros > UINT32_MAX) {
    throw new InvalidLeafError(`${field} * 1e6 overflows uint32, got ${value}`, field);
  }
  return micros === 0 ? 0 : micros; // no -0
}

/**
 * keccak256(abi.encode(uint32 maxTokens, uint32 temperatureMicros, uint32 topPMicros)) for
 * sampler version 1, with uint32 samplerVersion appended for later versions. The two encodings
 * differ in length, so a record of one version never opens a leaf of another.
 */
export function hashSampling(sampling: SamplingParams, field = "sampling"): Hex {
  if (typeof sampling !== "object" || sampling === null) {
    throw new InvalidLeafError(`${field} must be an object { temperature, topP, maxTokens, sampler? }`, field);
  }
  const maxTokens = checkUint32(sampling.maxTokens, `${field}.maxTokens`, 0);
  const temperature = toMicros(sampling.temperature, `${field}.temperature`);
  const topP = toMicros(sampling.topP, `${field}.topP`, 1);
  const version = sampling.sampler === undefined ? 1 : checkUint32(sampling.sampler, `${field}.sampler`, 1);
  if (version === 1) return abiKeccak(encodeAbiParameters(SAMPLING_ABI, [maxTokens, temperature, topP]));
  return abiKeccak(encodeAbiParameters(VERSIONED_SAMPLING_ABI, [maxTokens, temperature, topP, version]));
}

/** keccak256(abi.encode(uint32 topk, uint32 decodeBatchSize, bytes[] proofs)). */
export function hashProofs(proofs: readonly Uint8Array[], params: ProofParams, field = "proofs"): Hex {
  if (typeof params !== "object" || params === null) {
    throw new InvalidLeafError("proofParams must be an object { topk, decodeBatchSize }", "proofParams");
  }
  const topk = checkUint32(params.topk, "proofParams.topk", 1);
  const decodeBatchSize = checkUint32(params.decodeBatchSize, "proofParams.decodeBatchSize", 1);
  if (!Array.isArray(proofs) || proofs.length === 0) {
    throw new InvalidLeafError(`${field} must be a non-empty array of proofs`, field);
  }
  const expected = 2 + 2 * topk;
  const hexProofs = proofs.map((proof: unknown, i): Hex => {
    if (!(proof instanceof Uint8Array)) {
      throw new InvalidLeafError(`${field}[${i}] must be a Uint8Array`, `${field}[${i}]`);
    }
    if (proof.length !== expected) {
      throw new InvalidLeafError(
        `${field}[${i}] is ${proof.length} bytes; with topk = ${topk} a proof is ${expected} bytes`,
        `${field}[${i}]`,
      );
    }
    return bytesToHex(proof);
  });
  return abiKeccak(encodeAbiParameters(PROOFS_ABI, [topk, decodeBatchSize, hexProofs]));
}

/** The leaf struct for one record; throws InvalidLeafError naming the first bad field. */
export function inferenceLeafFields(record: InferenceRecord): InferenceLeafFields {
  if (typeof record !== "object" || record === null) {
    throw new InvalidLeafError("record must be an object", "record");
  }
  return {
    modelId: hashModelId(record.model, "model"),
    promptHash: hashTokens(record.promptTokens, "promptTokens"),
    outputHash: hashTokens(record.outputTokens, "outputTokens"),
    samplingHash: hashSampling(record.sampling, "sampling"),
    seed: checkSeed(record.seed, "seed"),
    proofsHash: hashProofs(record.proofs, record.proofParams, "proofs"),
  };
}

/** The double-hashed leaf of an already computed struct (what InferenceLeafLib.hash returns). */
export function hashLeafFields(fields: InferenceLeafFields): Hex {
  const encoded = encodeAbiParameters(LEAF_ABI, [
    checkBytes32(fields.modelId, "modelId"),
    checkBytes32(fields.promptHash, "promptHash"),
    checkBytes32(fields.outputHash, "outputHash"),
    checkBytes32(fields.samplingHash, "samplingHash"),
    checkSeed(fields.seed, "seed"),
    checkBytes32(fields.proofsHash, "proofsHash"),
  ]);
  return keccakHex(keccak_256(Buffer.from(encoded.slice(2), "hex")));
}

/** The leaf hash of one record, as 0x-hex: hashLeafFields(inferenceLeafFields(record)). */
export function hashInferenceLeaf(record: InferenceRecord): Hex {
  return hashLeafFields(inferenceLeafFields(record));
}

function checkUint32(value: unknown, field: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > UINT32_MAX) {
    throw new InvalidLeafError(`${field} must be an integer in ${min}..${UINT32_MAX}, got ${String(value)}`, field);
  }
  return value;
}

function checkSeed(value: unknown, field: string): bigint {
  if (typeof value !== "bigint" || value < 0n || value > UINT64_MAX) {
    throw new InvalidLeafError(`${field} must be a bigint in 0..2^64-1, got ${String(value)}`, field);
  }
  return value;
}

function checkBytes32(value: unknown, field: string): Hex {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new InvalidLeafError(`${field} must be 0x followed by 64 hex digits`, field);
  }
  return value as Hex;
}
