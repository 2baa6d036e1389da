/**
 * A prover that serves outputs it did not compute: it generates (and proves) as usual, then
 * replaces one output token, the last, before the record is stored. No TOPLOC proof covers the
 * last token (it is never fed back); only the verifier's replay of the sampler sees the edit. Runs as a process like prover/main.ts. Importing it
 * does nothing (hardhat test loads every file under test/): it only acts as a process entry point.
 */
import { pathToFileURL } from "node:url";
import { Engine } from "../../prover/engine/index.ts";
import { runProverMain } from "../../prover/main.ts";

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const generate = Engine.prototype.generate;
  Engine.prototype.generate = async function (this: Engine, request) {
    const generation = await generate.call(this, request);
    const last = generation.outputTokens.length - 1;
    generation.outputTokens[last] = generation.outputTokens[last] === 65 ? 66 : 65;
    return generation;
  };
  await runProverMain();
}
