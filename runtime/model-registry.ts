/**
 * The weights hash the on-chain ModelRegistry binds to a model id (getModel(keccak256(utf8(id)))).
 * A prover or operator whose model hashes otherwise must not serve or judge it: the profile the
 * network judges by was calibrated on the registered weights.
 */
import { createPublicClient, http, keccak256, toHex, type PublicClient } from "viem";
import { modelRegistryAbi } from "../protocol/contracts/abis.ts";
import type { Deployment } from "../protocol/contracts/deployments.ts";
import { ChainSetupError } from "./chain.ts";

const ZERO = /^0x0{64}$/;

/** The registered weights hash (64 hex digits, no 0x), or undefined when the model id is not registered. */
export async function registeredWeightsHash(client: PublicClient | string, deployment: Deployment, modelId: string): Promise<string | undefined> {
  const publicClient = typeof client === "string" ? (createPublicClient({ transport: http(client, { retryCount: 2, timeout: 20_000 }) }) as PublicClient) : client;
  let model: { profileHash: `0x${string}`; weightsHash: `0x${string}` };
  try {
    model = (await publicClient.readContract({
      address: deployment.contracts.modelRegistry.address as `0x${string}`,
      abi: modelRegistryAbi,
      functionName: "getModel",
      args: [keccak256(toHex(modelId))],
    })) as { profileHash: `0x${string}`; weightsHash: `0x${string}` };
  } catch (error) {
    throw new ChainSetupError(`chain: cannot read the ModelRegistry for ${modelId}: ${(error as Error).message.split("\n")[0]}`, "chain.rpcUrl");
  }
  return ZERO.test(model.weightsHash) ? undefined : model.weightsHash.slice(2).toLowerCase();
}
