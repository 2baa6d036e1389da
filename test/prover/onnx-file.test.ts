/** The streaming .onnx scan and the half-precision conversions (prover/engine/onnx-file). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, truncateSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnsupportedModelError } from "../../prover/engine/index.ts";
import { float32ToHalfBits, halfBitsToFloat32, upcastBytes } from "../../prover/engine/onnx-file/half.ts";
import { scanOnnxFile } from "../../prover/engine/onnx-file/scan.ts";
import { onnx } from "../../prover/engine/onnx-proto.ts";
import { buildDefaultModel } from "../../prover/model/default-model.ts";

describe("prover/engine/onnx-file", () => {
  const dir = mkdtempSync(join(tmpdir(), "vb-onnx-file-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("scans a single-file model into its structure without the weights, locating every payload", async () => {
    const bytes = buildDefaultModel();
    const path = join(dir, "default.onnx");
    writeFileSync(path, bytes);
    const scanned = await scanOnnxFile(path);
    const full = onnx.ModelProto.decode(bytes);
    const stripped = onnx.ModelProto.decode(bytes);
    for (const tensor of stripped.graph!.initializer!) delete (tensor as { rawData?: Uint8Array }).rawData;
    assert.deepEqual(onnx.ModelProto.toObject(scanned.model), onnx.ModelProto.toObject(stripped), "everything but the payloads, field for field");
    assert.ok(scanned.structure.length < bytes.length / 50, `structure ${scanned.structure.length} bytes of ${bytes.length}`);
    assert.equal(scanned.initializers.length, full.graph!.initializer!.length);
    for (const [i, info] of scanned.initializers.entries()) {
      const tensor = full.graph!.initializer![i]!;
      assert.equal(info.name, tensor.name);
      assert.deepEqual(info.dims, (tensor.dims ?? []).map(Number));
      assert.equal(info.data.kind, "inline");
      if (info.data.kind !== "inline") continue;
      assert.deepEqual(bytes.subarray(info.data.offset, info.data.offset + info.data.length), tensor.rawData, `${info.name}'s bytes are where the scan says`);
    }
  });

  it("keeps tensors stored in typed fields whole, and refuses a truncated or non-ONNX file", async () => {
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      graph: { name: "g", initializer: [{ name: "typed", dims: [3], dataType: 1, floatData: [1, 2, 3] }] },
    }).finish();
    const path = join(dir, "typed.onnx");
    writeFileSync(path, model);
    const scanned = await scanOnnxFile(path);
    assert.equal(scanned.initializers[0]!.data.kind, "embedded");
    assert.deepEqual(scanned.model.graph!.initializer![0]!.floatData, [1, 2, 3]);

    const truncated = join(dir, "truncated.onnx");
    writeFileSync(truncated, buildDefaultModel());
    truncateSync(truncated, statSync(truncated).size - 1000);
    await assert.rejects(scanOnnxFile(truncated), (error: unknown) => error instanceof UnsupportedModelError && /is not an ONNX model/.test(error.message));
    const text = join(dir, "text.onnx");
    writeFileSync(text, "this is not a protobuf at all, just text\n");
    await assert.rejects(scanOnnxFile(text), UnsupportedModelError);
  });

  it("fp16 <-> float32 is exact for every fp16 value; rounding is to nearest even, saturating at 65504; bf16 widens by a shift", () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfBitsToFloat32(h);
      if (Number.isNaN(x)) continue;
      if (!Number.isFinite(x)) {
        assert.equal(float32ToHalfBits(x), (h & 0x8000) | 0x7bff, "infinities saturate");
        continue;
      }
      assert.equal(float32ToHalfBits(x), h, `fp16 ${h.toString(16)}`);
    }
    assert.equal(float32ToHalfBits(1 + 2 ** -11), 0x3c00, "a tie rounds to even (down)");
    assert.equal(float32ToHalfBits(1 + 3 * 2 ** -11), 0x3c02, "a tie rounds to even (up)");
    assert.equal(float32ToHalfBits(1e9), 0x7bff);
    assert.equal(float32ToHalfBits(2 ** -25), 0, "below half the smallest subnormal");
    assert.equal(float32ToHalfBits(2 ** -24), 1, "the smallest subnormal");
    const bf16 = Uint8Array.of(0x80, 0x3f, 0x00, 0xc0); // 1.0, -2.0 (little-endian bf16)
    assert.deepEqual(Array.from(new Float32Array(upcastBytes(bf16, 16).buffer)), [1, -2]);
    const fp16 = Uint8Array.of(0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00); // 1, -2, 2^-24
    assert.deepEqual(Array.from(new Float32Array(upcastBytes(fp16, 10).buffer)), [1, -2, 2 ** -24]);
  });
});
