/**
 * A prover that serves outputs it did not compute: it generates (and proves) as usual, then
 * replaces the first output token before the record is stored, so the committed tokens are not
 * the ones the proofs cover. Runs as a process like prover/main.ts. Importing it
 * does nothing (hardhat test loads every file under test/): it only acts as a process entry point.
 */
import { pathToFileURL } from "node:url";
import { Engine } from "../../prover/engine/index.ts";
import { runProverMain } from "../../prover/main.ts";

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const generate = Engine.prototype.generate;
  Engine.prototype.generate = async function (this: Engine, request) {
    const generation = await generate.call(this, request);
    if (generation.outputTokens.length >= 2) {
      const first = generation.outputTokens[0]!;
      generation.outputTokens[0] = first === 65 ? 66 : 65;
    }
    return generation;
  };
  await runProverMain();
}
