/**
 * npm run model:folder -- --out DIR [--dtype float16] [--shards 1] [--layout optimum|transformers.js]
 *                         [--tokenizer test/fixtures/hf/tokenizers/sp-bpe-metaspace] [--seed 7]
 *
 * Writes a small Hugging Face model folder (a Llama-style decoder with GQA and a KV cache, weights
 * in external data, config.json, generation_config.json and a tokenizer with its chat template),
 * the layout `npm run prover -- --model-dir DIR` serves. Untrained weights: it demonstrates the
 * pipeline, nothing is downloaded.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeHfModelFolder, type FolderDtype } from "../prover/model/hf-folder.ts";

const USAGE = `usage: npm run model:folder -- --out DIR [options]

  --out DIR            the folder to write (required)
  --dtype TYPE         float32 | float16 | bfloat16 (default float16)
  --shards N           external data files (default 1; 0 keeps the weights inside model.onnx)
  --layout NAME        optimum (model.onnx at the top, default) | transformers.js (onnx/model.onnx)
  --tokenizer DIR      a folder with tokenizer.json and tokenizer_config.json
                       (default test/fixtures/hf/tokenizers/sp-bpe-metaspace)
  --seed N             the weights' seed (default 7)
  -h, --help           this text
`;

function fail(message: string): never {
  process.stderr.write(`model:folder: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      out: { type: "string" },
      dtype: { type: "string", default: "float16" },
      shards: { type: "string", default: "1" },
      layout: { type: "string", default: "optimum" },
      tokenizer: { type: "string", default: "test/fixtures/hf/tokenizers/sp-bpe-metaspace" },
      seed: { type: "string", default: "7" },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!values.out) fail("--out is required");
if (!["float32", "float16", "bfloat16"].includes(values.dtype)) fail(`--dtype must be float32, float16 or bfloat16, got ${values.dtype}`);
if (!["optimum", "transformers.js"].includes(values.layout)) fail(`--layout must be optimum or transformers.js, got ${values.layout}`);
const shards = Number(values.shards);
const seed = Number(values.seed);
if (!Number.isInteger(shards) || shards < 0 || shards > 64) fail(`--shards must be an integer in 0..64, got ${values.shards}`);
if (!Number.isInteger(seed) || seed < 0) fail(`--seed must be a non-negative integer, got ${values.seed}`);

const written = await writeHfModelFolder({
  dir: resolve(values.out),
  tokenizerDir: resolve(values.tokenizer),
  dtype: values.dtype as FolderDtype,
  external: shards > 0,
  shards: Math.max(1, shards),
  layout: values.layout as "optimum" | "transformers.js",
  seed,
});
process.stdout.write(`model:folder: wrote ${written.dir} (${values.dtype}, vocabulary ${written.vocabSize}, graph ${written.graphPath}, ${written.externalFiles.length} external data file(s))\n`);
