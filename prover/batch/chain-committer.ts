/**
 * Posts closed batches to BatchManager.submitBatch with viem and the prover's key. Idempotent
 * per batch across crashes: before posting, it looks for a BatchSubmitted event of this prover
 * with the same root and data URI (a post that was mined before the store recorded it), and
 * returns that instead of posting the root a second time.
 */
import { decodeEventLog, type Abi, type Address, type Hex, type Log, type PublicClient } from "viem";
import { keccak256, stringToBytes } from "viem";
import { batchManagerAbi, modelRegistryAbi } from "../../protocol/contracts/abis.ts";
import type { ChainConnection } from "../../runtime/chain.ts";
import type { BatchCommitter, ClosedBatch, CommitReceipt } from "./committer.ts";

export interface ChainCommitterOptions {
  /** First block to search for earlier posts (the deployment block). */
  fromBlock?: bigint;
  /** Largest block range per eth_getLogs call. */
  logRange?: bigint;
}

interface Found {
  batchId: bigint;
  txHash: Hex;
  blockNumber: bigint;
}

export class ChainCommitter implements BatchCommitter {
  readonly name = "chain";
  private readonly batchManager: Address;
  private readonly fromBlock: bigint;
  private readonly logRange: bigint;

  constructor(
    private readonly connection: ChainConnection,
    options: ChainCommitterOptions = {},
  ) {
    this.batchManager = connection.deployment.contracts.batchManager.address;
    this.fromBlock = options.fromBlock ?? BigInt(connection.deployment.blockNumber);
    this.logRange = options.logRange ?? 5_000n;
  }

  async commit(batch: ClosedBatch): Promise<CommitReceipt> {
    const { publicClient, walletClient, account, chainId } = this.connection;
    const earlier = await this.findEarlierPost(publicClient, account.address, batch);
    if (earlier) return this.receipt(earlier, chainId);
    const { request } = await publicClient.simulateContract({
      address: this.batchManager,
      abi: batchManagerAbi,
      functionName: "submitBatch",
      args: [batch.modelId, batch.manifestHash, batch.root, BigInt(batch.leafCount), batch.dataUri],
      account,
    });
    const txHash = await walletClient.writeContract(request);
    const mined = await publicClient.waitForTransactionReceipt({ hash: txHash, timeout: 120_000 });
    if (mined.status !== "success") throw new Error(`submitBatch for local batch ${batch.id} reverted (tx ${txHash})`);
    const event = mined.logs.map((log) => decodeSubmitted(log)).find((e) => e !== undefined);
    if (!event) throw new Error(`submitBatch for local batch ${batch.id} emitted no BatchSubmitted (tx ${txHash})`);
    return this.receipt({ batchId: event.batchId, txHash, blockNumber: mined.blockNumber }, chainId);
  }

  /**
   * What the ModelRegistry binds to `model`: the profile its batches are judged by and the
   * weights that profile was calibrated on (zero hashes when the model is not registered, and
   * then BatchManager refuses its batches).
   */
  async registeredModel(model: string): Promise<{ profileHash: Hex; weightsHash: Hex }> {
    const registry = this.connection.deployment.contracts.modelRegistry.address;
    const bound = (await this.connection.publicClient.readContract({
      address: registry,
      abi: modelRegistryAbi,
      functionName: "getModel",
      args: [keccak256(stringToBytes(model))],
    })) as { profileHash: Hex; weightsHash: Hex };
    return { profileHash: bound.profileHash, weightsHash: bound.weightsHash };
  }

  private receipt(found: Found, chainId: number): CommitReceipt {
    return {
      status: "committed",
      chainId,
      contract: this.batchManager,
      txHash: found.txHash,
      blockNumber: found.blockNumber.toString(),
      onchainBatchId: found.batchId.toString(),
    };
  }

  private async findEarlierPost(publicClient: PublicClient, prover: Address, batch: ClosedBatch): Promise<Found | undefined> {
    const head = await publicClient.getBlockNumber();
    for (let from = this.fromBlock; from <= head; from += this.logRange) {
      const to = from + this.logRange - 1n < head ? from + this.logRange - 1n : head;
      const logs = await publicClient.getContractEvents({
        address: this.batchManager,
        abi: batchManagerAbi,
        eventName: "BatchSubmitted",
        args: { prover },
        fromBlock: from,
        toBlock: to,
      });
      for (const log of logs) {
        const args = log.args as { batchId: bigint; root: Hex; dataURI: string };
        if (args.root.toLowerCase() === batch.root.toLowerCase() && args.dataURI === batch.dataUri) {
          return { batchId: args.batchId, txHash: log.transactionHash!, blockNumber: log.blockNumber! };
        }
      }
    }
    return undefined;
  }
}

function decodeSubmitted(log: Log): { batchId: bigint } | undefined {
  try {
    const decoded = decodeEventLog({ abi: batchManagerAbi as Abi, data: log.data, topics: log.topics });
    if (decoded.eventName !== "BatchSubmitted") return undefined;
    return { batchId: (decoded.args as unknown as { batchId: bigint }).batchId };
  } catch {
    return undefined;
  }
}
