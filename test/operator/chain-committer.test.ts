/**
 * The prover's chain committer (prover/batch/chain-committer.ts), which operators depend on to
 * see batches: posts submitBatch with the prover's key, and is idempotent when the same batch is
 * offered again after a crash (finds its own earlier post instead of committing the root twice).
 */
import assert from "node:assert/strict";
import { network } from "hardhat";
import { createWalletClient, custom, keccak256, toHex, type PublicClient } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { ChainCommitter } from "../../prover/batch/chain-committer.ts";
import type { ClosedBatch } from "../../prover/batch/index.ts";
import { Role } from "../../protocol/eip712/index.ts";
import type { Deployment } from "../../protocol/contracts/deployments.ts";
import type { ChainConnection } from "../../runtime/chain.ts";
import { deploySystem, testAccount, wait, type System } from "../helpers/contracts.ts";

const connection = await network.create();

describe("prover chain committer (submitBatch, idempotent across crashes)", () => {
  let sys: System;

  before(async () => {
    sys = await deploySystem(connection, "native", "committer");
    await wait(sys.publicClient, await sys.modelRegistry.write.setModelProfile(["m", keccak256(toHex("profile of m")), keccak256(toHex("weights of m")), ""]));
  });

  function connect(account: PrivateKeyAccount): ChainConnection {
    const publicClient = sys.publicClient as PublicClient;
    const chain = publicClient.chain!;
    return {
      chainId: sys.chainId,
      chain,
      publicClient,
      walletClient: createWalletClient({ chain, transport: custom(connection.provider), account }),
      account,
      deployment: { chainId: sys.chainId, blockNumber: 0, contracts: { batchManager: { address: sys.batchManager.address }, modelRegistry: { address: sys.modelRegistry.address } } } as unknown as Deployment,
    };
  }

  const batch = (id: number, root: string): ClosedBatch => ({
    id, model: "m", modelId: keccak256(toHex("m")), root: keccak256(toHex(root)), leafCount: 3,
    manifestHash: keccak256(toHex(`manifest ${id}`)), dataUri: `http://127.0.0.1:8000/v1/batches/${id}`, createdAt: "2026-11-23T00:00:00.000Z",
  });

  it("posts a batch and returns the on-chain id; offering it again returns the same post", async () => {
    const prover = await sys.addMember(Role.Prover);
    const committer = new ChainCommitter(connect(prover.account as PrivateKeyAccount), { logRange: 3n });
    const first = await committer.commit(batch(1, "a"));
    assert.equal(first.status, "committed");
    const countAfterFirst = await sys.batchManager.read.batchCount();
    const again = await committer.commit(batch(1, "a"));
    assert.deepEqual(again, first, "a crash between the mined post and the store update finds the same post");
    assert.equal(await sys.batchManager.read.batchCount(), countAfterFirst, "no second submitBatch");
    const second = await committer.commit(batch(2, "b"));
    assert.equal(second.status === "committed" && BigInt(second.onchainBatchId), countAfterFirst + 1n);
    assert.equal(await sys.batchManager.read.batchRoot([countAfterFirst + 1n]), batch(2, "b").root);
  });

  it("throws (the batcher retries later) when the key is not an active prover", async () => {
    const stranger = testAccount("committer stranger");
    await sys.fund(stranger.address);
    await assert.rejects(new ChainCommitter(connect(stranger as PrivateKeyAccount)).commit(batch(3, "c")), /NotActiveProver/);
  });
});
