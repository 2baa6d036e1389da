import assert from "node:assert/strict";
import { network } from "hardhat";
import { keccak256, toHex } from "viem";
import type { Deployment } from "../../protocol/contracts/deployments.ts";
import { registeredWeightsHash } from "../../runtime/model-registry.ts";
import { deploySystem, TEST_MODEL } from "../helpers/contracts.ts";

const connection = await network.create();

describe("runtime/model-registry: the weights hash bound on chain", () => {
  it("reads the registered weights of a model id, and nothing for an unregistered one", async () => {
    const sys = await deploySystem(connection, "native", "model-registry");
    const deployment = { contracts: { modelRegistry: { address: sys.modelRegistry.address } } } as unknown as Deployment;
    assert.equal(await registeredWeightsHash(sys.publicClient, deployment, TEST_MODEL), keccak256(toHex("test weights")).slice(2));
    assert.equal(await registeredWeightsHash(sys.publicClient, deployment, "never-registered"), undefined);
  });
});
