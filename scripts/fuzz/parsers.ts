/**
 * The in-process interfaces that take bytes from other parties: the TOPLOC decoder (proofs from
 * a prover, checked by operators), the leaf parser (an operator reading a prover's data
 * endpoint, then re-encoding the leaf and proving inclusion), and the envelope verifier
 * (anyone checking a benchmark envelope someone published). Each input must end in a result or
 * a typed error, quickly.
 */
import fc from "fast-check";
import { parseLeafResponse } from "../../operator/leaf-check.ts";
import { generateEd25519, publicKeyToPem, signEnvelope, verifyEnvelopeText, prettyJson, type VbEnvelope } from "../../protocol/envelope/index.ts";
import { BatchMerkleTree, hashInferenceLeaf, inferenceLeafFields, verifyMerkleProof } from "../../protocol/merkle/index.ts";
import { buildProofs, ToplocProof, verifyProofs } from "../../protocol/toploc/index.ts";
import { float32ArrayToBf16 } from "../../protocol/toploc/bf16.ts";
import { sampleEnvelope } from "../../test/helpers/sample-envelope.ts";
import { count, isTyped, newFigures, problem, type Figures } from "./figures.ts";
import { hostileValue, mutatedBytes, mutatedJson, mutatedJsonText, sample } from "./generators.ts";
import { seededNormals } from "../bench/harness.ts";

/** A synchronous call judged: ok, a typed error, or an untyped error / a hang. */
function judgeSync(figures: Figures, input: unknown, hangMs: number, fn: () => unknown): void {
  figures.inputs++;
  const started = performance.now();
  try {
    fn();
    count(figures, "ok");
  } catch (error) {
    if (isTyped(error)) count(figures, (error as Error).name);
    else problem(figures, "untyped", input, `${(error as Error)?.name}: ${(error as Error)?.message}`);
  }
  if (performance.now() - started > hangMs) problem(figures, "hangs", input, `took ${Math.round(performance.now() - started)} ms`);
}

/** Prefill of 4 x 512 values and 32 decode steps of 512: two chunks at k = 128. */
function activations(seed: number): Uint16Array[] {
  return [float32ArrayToBf16(seededNormals(4 * 512, seed)), ...Array.from({ length: 32 }, (_, i) => float32ArrayToBf16(seededNormals(512, seed + 1 + i)))];
}

export function fuzzToplocDecoder(runs: number, seed: number): Figures {
  const figures = newFigures("TOPLOC decoder");
  const started = performance.now();
  const acts = activations(seed);
  const proofs = buildProofs(acts).map((p) => p.toBytes());
  const base64 = proofs.map((p) => Buffer.from(p).toString("base64"));
  const kinds = fc.oneof(
    { weight: 4, arbitrary: mutatedBytes(proofs[1]!).map((bytes) => ({ kind: "verify-bytes" as const, bytes })) },
    { weight: 2, arbitrary: mutatedJsonText(base64[0]!).map((text) => ({ kind: "verify-base64" as const, text: text.replace(/^"|"$/g, "") })) },
    { weight: 2, arbitrary: fc.oneof(hostileValue, fc.anything(), fc.uint8Array({ maxLength: 300 })).map((value) => ({ kind: "decode-any" as const, value })) },
    { weight: 1, arbitrary: fc.array(fc.oneof(fc.constant(proofs[0]!), fc.constant(base64[1]!), hostileValue), { maxLength: 4 }).map((list) => ({ kind: "verify-list" as const, list })) },
  );
  for (const input of sample(kinds, runs, seed)) {
    judgeSync(figures, input, 2_000, () => {
      if (input.kind === "verify-bytes") return verifyProofs(acts, [proofs[0]!, input.bytes]);
      if (input.kind === "verify-base64") return verifyProofs(acts, [input.text, base64[1]!]);
      if (input.kind === "decode-any") return ToplocProof.fromBytes(input.value as Uint8Array, 128);
      return verifyProofs(acts, input.list as never);
    });
  }
  figures.seconds = (performance.now() - started) / 1000;
  return figures;
}

/** A leaf answer as the prover's data endpoint writes it (snake_case), with a real proof. */
function sampleLeafJson(seed: number): Record<string, unknown> {
  const proofs = buildProofs(activations(seed)).map((p) => Buffer.from(p.toBytes()).toString("base64"));
  const record = {
    model: "vb-byte-llama-4l-256h-v1", prompt_tokens: [256, 104, 105], output_tokens: [33, 10, 257],
    sampling: { temperature: 0.7, top_p: 0.95, max_tokens: 16 }, seed: "42",
    toploc: { topk: 128, decode_batch_size: 32, skip_prefill: false, proofs },
  };
  return { object: "batch.leaf", batch_id: 1, index: 0, leaf_count: 2, root: `0x${"11".repeat(32)}`, leaf_hash: `0x${"22".repeat(32)}`, merkle_proof: [`0x${"33".repeat(32)}`], record };
}

export function fuzzLeafParser(runs: number, seed: number): Figures {
  const figures = newFigures("leaf parser");
  const started = performance.now();
  const base = sampleLeafJson(seed);
  const inputs = fc.oneof({ weight: 6, arbitrary: mutatedJson(base) }, { weight: 1, arbitrary: fc.anything() });
  for (const input of sample(inputs, runs, seed)) {
    judgeSync(figures, input, 2_000, () => {
      // What an operator does with a fetched leaf before recomputing it.
      const { record, merkleProof } = parseLeafResponse(input);
      const leafHash = hashInferenceLeaf(record);
      inferenceLeafFields(record);
      const root = BatchMerkleTree.fromLeafHashes([leafHash, `0x${"44".repeat(32)}`]).root;
      verifyMerkleProof(merkleProof, root, leafHash);
    });
  }
  figures.seconds = (performance.now() - started) / 1000;
  return figures;
}

export async function fuzzEnvelopeVerifier(runs: number, seed: number): Promise<Figures> {
  const figures = newFigures("envelope verifier");
  const started = performance.now();
  const key = generateEd25519();
  const trust = { ed25519: [publicKeyToPem(key.publicKey)] };
  const signed = await signEnvelope(sampleEnvelope() as unknown as VbEnvelope, { ed25519: key });
  const text = prettyJson(signed as never);
  const base = JSON.parse(text) as unknown;
  const inputs = fc.oneof(
    { weight: 5, arbitrary: mutatedJsonText(base) },
    { weight: 1, arbitrary: mutatedBytes(new TextEncoder().encode(text)).map((b) => Buffer.from(b).toString("utf8")) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );
  for (const input of sample(inputs, runs, seed)) {
    figures.inputs++;
    const t0 = performance.now();
    try {
      const report = await verifyEnvelopeText(input, trust);
      count(figures, report.status);
    } catch (error) {
      if (isTyped(error)) count(figures, (error as Error).name);
      else problem(figures, "untyped", input, `${(error as Error)?.name}: ${(error as Error)?.message}`);
    }
    if (performance.now() - t0 > 5_000) problem(figures, "hangs", input, `took ${Math.round(performance.now() - t0)} ms`);
  }
  figures.seconds = (performance.now() - started) / 1000;
  return figures;
}
