import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { digestFile, weightsHash, weightsManifest } from "../../protocol/weights/index.ts";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("protocol/weights: the weights hash", () => {
  const graph = { sha256: sha("graph"), size: 120 };
  const a = { sha256: sha("a"), size: 10 };
  const b = { sha256: sha("b"), size: 20 };

  it("a single-file model: the file's sha256", () => {
    assert.equal(weightsHash({ graph, data: new Map() }), graph.sha256);
  });

  it("with external data: sha256 of the manifest, lines sorted by location in UTF-8 byte order", () => {
    const manifest = weightsManifest({ graph, data: new Map([["model.onnx_data_1", b], ["model.onnx_data", a], ["Z.bin", a]]) });
    assert.equal(
      manifest,
      `vb-weights/1\ngraph ${graph.sha256} 120\ndata ${a.sha256} 10 Z.bin\ndata ${a.sha256} 10 model.onnx_data\ndata ${b.sha256} 20 model.onnx_data_1\n`,
    );
    assert.equal(weightsHash({ graph, data: [{ location: "model.onnx_data", ...a }] }), sha(`vb-weights/1\ngraph ${graph.sha256} 120\ndata ${a.sha256} 10 model.onnx_data\n`));
    const order1 = weightsHash({ graph, data: new Map([["x", a], ["y", b]]) });
    const order2 = weightsHash({ graph, data: new Map([["y", b], ["x", a]]) });
    assert.equal(order1, order2, "the order the graph names its files in does not matter");
    assert.notEqual(weightsHash({ graph, data: new Map([["x", b], ["y", a]]) }), order1, "which file holds which bytes does");
  });

  it("refuses malformed digests, a location listed twice or containing a newline", () => {
    assert.throws(() => weightsManifest({ graph: { sha256: "xyz", size: 1 }, data: [] }), TypeError);
    assert.throws(() => weightsManifest({ graph, data: [{ location: "a", ...a }, { location: "a", ...b }] }), /listed twice/);
    assert.throws(() => weightsManifest({ graph, data: [{ location: "a\nb", ...a }] }), /bad location/);
  });

  it("digestFile streams a file's sha256 and size", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vb-weights-"));
    try {
      const bytes = Buffer.alloc(9 << 20, 7);
      writeFileSync(join(dir, "w.bin"), bytes);
      const seen: number[] = [];
      const digest = await digestFile(join(dir, "w.bin"), (n) => seen.push(n));
      assert.deepEqual(digest, { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length });
      assert.ok(seen.length >= 3, "progress comes in pieces");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
