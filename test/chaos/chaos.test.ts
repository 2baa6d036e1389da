/**
 * The chaos run, small (npm run chaos does 6 batches and SIGKILLs every honest node): the local
 * network as separate processes on 127.0.0.1 under the hostile operator and the hostile prover,
 * with an operator, the aggregator and the prover (mid-batch) SIGKILLed and restarted. Every
 * honest batch must be attested within its window, no acknowledged completion lost, no honest
 * key seen signing twice, the internal service never fetched, and the hostile operator slashed.
 * About two minutes; VB_E2E=0 (or VB_CHAOS=0) skips it.
 */
import assert from "node:assert/strict";
import { chaosMet, runChaos } from "../../scripts/chaos/run.ts";

const ENABLED = process.env.VB_E2E !== "0" && process.env.VB_CHAOS !== "0";

(ENABLED ? describe : describe.skip)("chaos (small): hostile operator, hostile prover, SIGKILLs of an operator, the aggregator and the prover", function () {
  this.timeout(480_000);

  it("attests every honest batch, loses nothing, and no honest key signs twice", async () => {
    const figures = await runChaos({ batches: 3, requestsPerBatch: 2, kills: ["operator-1", "aggregator", "prover"] });
    const checks = chaosMet(figures);
    const report = `${checks.map((c) => `${c.name}: ${c.value} (target ${c.target})`).join("\n")}\nhostile prover: ${JSON.stringify(figures.hostileProver)}\nhostile operator: ${JSON.stringify(figures.hostileOperator)}`;
    for (const c of checks) assert.ok(c.met, `${c.name} missed:\n${report}`);
    assert.deepEqual(figures.kills, ["operator-1", "aggregator", "prover"]);
    const refused = (figures.hostileProver as { batches: { label: string; refused?: string }[] }).batches.find((b) => b.label === "leafCount 2^25 + 1");
    assert.equal(refused?.refused, "LeafCountTooLarge", "the contract refuses a batch no tree can hold");
    // Every honest operator skipped, with a reason, what it cannot or must not fetch.
    assert.deepEqual(figures.hostileBatchDecisions["leafCount 2^25"], ["skipped", "skipped", "skipped"], JSON.stringify(figures.hostileBatchDecisions));
    assert.deepEqual(figures.hostileBatchDecisions["internal data URI"], ["skipped", "skipped", "skipped"], JSON.stringify(figures.hostileBatchDecisions));
    for (const label of ["leaves that do not open the root", "slow data endpoint", "endless data endpoint"]) {
      for (const decision of figures.hostileBatchDecisions[label] ?? []) assert.match(decision, /^unavailable/, `${label}: ${decision}`);
    }
  });
});
