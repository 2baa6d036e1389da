import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import hre from "hardhat";
import { BINDINGS_FILE, BOUND_CONTRACTS, renderBindings, type BoundContractName } from "../../scripts/gen-bindings.ts";
import * as abis from "../../protocol/contracts/abis.ts";

describe("protocol/contracts/abis.ts (generated bindings)", () => {
  it("matches the compiled artifacts (run npm run gen:bindings after changing a contract)", () => {
    const committed = readFileSync(BINDINGS_FILE, "utf8");
    assert.ok(committed === renderBindings(), "protocol/contracts/abis.ts is stale: run `npm run gen:bindings` and commit it");
  });

  it("exports every bound contract's ABI as the artifact has it", async () => {
    for (const name of Object.keys(BOUND_CONTRACTS) as BoundContractName[]) {
      // Fully qualified: EigenLayer's core has its own IAllocationManager, IStrategy, ...
      const [file] = BOUND_CONTRACTS[name];
      const source = file.slice(0, file.lastIndexOf("/"));
      const artifact = await hre.artifacts.readArtifact(`${source}:${file.slice(file.lastIndexOf("/") + 1).replace(/\.json$/, "")}`);
      const exported = (abis as Record<string, unknown>)[BOUND_CONTRACTS[name][1]];
      assert.deepEqual(exported, artifact.abi, name);
    }
  });
});
