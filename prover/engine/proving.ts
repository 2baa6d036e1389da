import { float32ArrayToBf16, proveChunk, type ToplocParams } from "../../protocol/toploc/index.ts";

/**
 * Builds TOPLOC proofs while generation runs, from the activations the forwards already return:
 * the prefill proof as soon as the prefill is done, then each decode chunk as soon as its
 * decodeBatchSize rows are in. Memory stays at one chunk of rows, whatever the output length.
 * The chunking is protocol/toploc's with skipPrefill false (the engine's only mode): the prefill
 * alone, then consecutive decode rows concatenated.
 */
export class ProofAccumulator {
  private readonly proofs: Uint8Array[] = [];
  private readonly chunk: Float32Array;
  private rowsInChunk = 0;
  /** Time spent building proofs, in milliseconds. */
  elapsedMs = 0;

  constructor(
    private readonly hiddenSize: number,
    private readonly params: ToplocParams,
  ) {
    this.chunk = new Float32Array(params.decodeBatchSize * hiddenSize);
  }

  /** The prefill's activation rows (promptLength x hiddenSize). */
  addPrefill(hidden: Float32Array): void {
    this.prove(hidden);
  }

  /** The activation row of one decode step (the step that fed a generated token). */
  addDecode(row: Float32Array): void {
    this.chunk.set(row, this.rowsInChunk * this.hiddenSize);
    this.rowsInChunk++;
    if (this.rowsInChunk === this.params.decodeBatchSize) this.flush();
  }

  private flush(): void {
    if (this.rowsInChunk === 0) return;
    this.prove(this.chunk.subarray(0, this.rowsInChunk * this.hiddenSize));
    this.rowsInChunk = 0;
  }

  private prove(values: Float32Array): void {
    const start = performance.now();
    const bits = float32ArrayToBf16(values);
    this.proofs.push(proveChunk(bits, this.params.topk, `chunk ${this.proofs.length}`).toBytes());
    this.elapsedMs += performance.now() - start;
  }

  /** Proves the last partial chunk and returns every proof, in chunk order. */
  finish(): Uint8Array[] {
    this.flush();
    return this.proofs;
  }
}
