/**
 * npm run bench:model-memory [-- --record] [-- --gib 1]
 *
 * Memory of loading a model whose weights (1 GiB by default) are in an external data file, as
 * Engine.load does it: the streaming scan of the graph, the streamed weights hash, then
 * onnxruntime reading the weights itself (fp32), or the streamed float32 upcast written to the
 * cache first (fp16). Each case runs in a fresh child process, which reports
 *   - its peak resident memory (VmHWM) and the resident memory after load, against the weights' size;
 *   - the peak JavaScript-side memory (V8 heap + ArrayBuffers, sampled every 10 ms) above the
 *     baseline: what the loader itself holds. Target: at most 64 MiB, i.e. never the weights.
 * The model: Gather from a [V, H] embedding, a norm scale, MatMul with a [H, V] head (V = 65536),
 * values drawn at random; written in 8 MiB pieces, so the generator holds nothing either.
 */
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { onnx } from "../../prover/engine/onnx-proto.ts";
import { machineLine, printTable, recordSection } from "./harness.ts";

const VOCAB = 65536;
const MIB = 1 << 20;
const TARGET_JS_MIB = 64;

/** Writes `count` random small values of 2 or 4 bytes each to `fd`, 8 MiB at a time. */
function writeRandom(fd: number, bytes: number, elementBytes: 2 | 4): void {
  const piece = new Uint8Array(8 * MIB);
  for (let done = 0; done < bytes; done += piece.length) {
    const size = Math.min(piece.length, bytes - done);
    randomFillSync(piece, 0, size);
    if (elementBytes === 4) {
      const words = new Uint32Array(piece.buffer, 0, size / 4);
      for (let i = 0; i < words.length; i++) words[i] = ((words[i]! & 0x807fffff) | 0x3c000000) >>> 0; // |x| in [2^-7, 2^-6)
    } else {
      const halves = new Uint16Array(piece.buffer, 0, size / 2);
      for (let i = 0; i < halves.length; i++) halves[i] = (halves[i]! & 0x83ff) | 0x2000; // |x| in [2^-7, 2^-6)
    }
    writeSync(fd, piece, 0, size);
  }
}

function writeModel(dir: string, gib: number, dtype: "float32" | "float16"): string {
  const elementBytes = dtype === "float32" ? 4 : 2;
  const elem = dtype === "float32" ? 1 : 10;
  // Two tensors of gib/2 each: hidden = (gib GiB / 2) / (V * elementBytes).
  const hidden = Math.round((gib * 1024 * MIB) / 2 / (VOCAB * elementBytes));
  const tensorBytes = VOCAB * hidden * elementBytes;
  const fd = openSync(join(dir, "model.onnx_data"), "w");
  writeRandom(fd, tensorBytes, elementBytes);
  writeRandom(fd, tensorBytes, elementBytes);
  closeSync(fd);
  const external = (offset: number) => [
    { key: "location", value: "model.onnx_data" },
    { key: "offset", value: String(offset) },
    { key: "length", value: String(tensorBytes) },
  ];
  const norm = new Uint8Array(hidden * elementBytes);
  const view = new DataView(norm.buffer);
  for (let i = 0; i < hidden; i++) elementBytes === 4 ? view.setFloat32(i * 4, 1, true) : view.setUint16(i * 2, 0x3c00, true);
  const model = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "memory_bench",
      node: [
        { opType: "Gather", input: ["embed.weight", "input_ids"], output: ["embedded"], attribute: [{ name: "axis", type: 2, i: 0 }] },
        { opType: "Mul", input: ["embedded", "norm.weight"], output: ["hidden_state"] },
        { opType: "MatMul", input: ["hidden_state", "lm_head.weight"], output: ["logits"] },
      ],
      initializer: [
        { name: "embed.weight", dims: [VOCAB, hidden], dataType: elem, dataLocation: 1, externalData: external(0) },
        { name: "lm_head.weight", dims: [hidden, VOCAB], dataType: elem, dataLocation: 1, externalData: external(tensorBytes) },
        { name: "norm.weight", dims: [hidden], dataType: elem, rawData: norm },
      ],
      input: [{ name: "input_ids", type: { tensorType: { elemType: 7, shape: { dim: [{ dimParam: "batch" }, { dimParam: "seq" }] } } } }],
      output: [{ name: "logits", type: { tensorType: { elemType: elem, shape: { dim: [{ dimParam: "batch" }, { dimParam: "seq" }, { dimValue: VOCAB }] } } } }],
    },
  }).finish();
  const path = join(dir, "model.onnx");
  const graphFd = openSync(path, "w");
  writeSync(graphFd, model);
  closeSync(graphFd);
  return path;
}

function peakResidentMiB(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** The child: load, one forward, report as JSON on stdout. */
async function child(modelPath: string, cacheDir: string): Promise<void> {
  const { Engine } = await import("../../prover/engine/index.ts");
  const js = () => {
    const m = process.memoryUsage();
    return (m.heapUsed + m.arrayBuffers) / MIB;
  };
  global.gc?.();
  const baselineJs = js();
  const baselineRss = process.memoryUsage().rss / MIB;
  let peakJs = baselineJs;
  const sampler = setInterval(() => (peakJs = Math.max(peakJs, js())), 10);
  const start = performance.now();
  const engine = await Engine.load({ modelPath, cacheDir, threads: 1 });
  const loadS = (performance.now() - start) / 1000;
  peakJs = Math.max(peakJs, js());
  const afterLoadRss = process.memoryUsage().rss / MIB;
  const g = await engine.generate({ promptTokens: [1, 2, 3, 4], temperature: 0, topP: 1, maxTokens: 2, seed: 0n });
  clearInterval(sampler);
  const report = {
    dtype: engine.info.dtype,
    computeDtype: engine.info.computeDtype,
    loadS,
    baselineRss,
    afterLoadRss,
    peakRss: peakResidentMiB(),
    jsAboveBaseline: peakJs - baselineJs,
    tokens: g.outputTokens.length,
  };
  await engine.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { record: { type: "boolean", default: false }, gib: { type: "string", default: "1" }, child: { type: "string" }, cache: { type: "string" } } });
  if (values.child) return child(values.child, values.cache!);
  const gib = Number(values.gib);
  if (!(gib > 0 && gib <= 8)) throw new Error("--gib must be in (0, 8]");
  const rows: string[][] = [["weights", "file GiB", "load s", "peak RSS MiB", "RSS after load MiB", "peak RSS / weights", "JS held MiB", "target", "status"]];
  let allMet = true;
  for (const dtype of ["float32", "float16"] as const) {
    const dir = mkdtempSync(join(tmpdir(), "vb-memory-"));
    try {
      process.stderr.write(`writing a ${gib} GiB ${dtype} external-data model in ${dir}\n`);
      const path = writeModel(dir, gib, dtype);
      const run = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "--child", path, "--cache", join(dir, "cache")], {
        encoding: "utf8",
        maxBuffer: 16 * MIB,
        stdio: ["ignore", "pipe", "inherit"],
      });
      if (run.status !== 0) throw new Error(`the ${dtype} case failed (exit ${run.status})`);
      const r = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { loadS: number; afterLoadRss: number; peakRss: number; jsAboveBaseline: number; computeDtype: string };
      const met = r.jsAboveBaseline <= TARGET_JS_MIB;
      allMet &&= met;
      const weightsMiB = gib * 1024;
      rows.push([
        `${dtype} (computed in ${r.computeDtype})`,
        gib.toFixed(2),
        r.loadS.toFixed(1),
        r.peakRss.toFixed(0),
        r.afterLoadRss.toFixed(0),
        (r.peakRss / weightsMiB).toFixed(2),
        r.jsAboveBaseline.toFixed(1),
        `<= ${TARGET_JS_MIB}`,
        met ? "met" : "MISSED",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const table = printTable(rows);
  const summary = `JavaScript never holds the weights: ${allMet ? "met" : "MISSED"}. Peak RSS is onnxruntime's (it reads the external file into its own buffers; the fp16 case reads the 2x larger float32 upcast).`;
  console.log(`\n${summary}`);
  if (values.record) {
    recordSection(
      "model-memory",
      `## Loading a model with external weights (\`npm run bench:model-memory\`)\n\nMachine: ${machineLine()}. ${gib} GiB of weights in model.onnx_data, Engine.load then one 4-token forward, each case in a fresh process.\n\n\`\`\`\n${table}\n\`\`\`\n\n${summary}`,
    );
  }
}

await main();
