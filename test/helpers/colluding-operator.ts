/**
 * An operator that colludes with some provers (VB_COLLUDE_WITH: comma-separated prover
 * addresses): for their batches it attests without checking and votes "clean" on disputes;
 * everything else it checks honestly. The end-to-end test runs it as a process so that a
 * fraudulent batch can reach quorum, and its attester be slashed with the prover. Importing it does nothing
 * (hardhat test loads every file under test/): it only acts as a process entry point.
 */
import { pathToFileURL } from "node:url";
import { runOperatorMain } from "../../operator/main.ts";

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const friends = new Set((process.env.VB_COLLUDE_WITH ?? "").split(",").filter(Boolean).map((a) => a.toLowerCase()));
  await runOperatorMain({
    checkHook: async (batch, index, honest) => {
      if (!friends.has(batch.prover.toLowerCase())) return honest();
      return { index, outcome: "valid", reason: "rubber-stamped", timings: { fetchMs: 0, recomputeMs: 0 } };
    },
  });
}
