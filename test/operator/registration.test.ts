/**
 * The operator's self-registration on the in-process chain, in both staking modes, and every
 * refusal (taken signing key, prover account, no tokens, zero stake, account = signer); the BLS
 * key's binding (once, with its proof of possession; another key refused).
 */
import assert from "node:assert/strict";
import { network } from "hardhat";
import { createWalletClient, custom, parseEther, type PublicClient } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { ensureBlsKey, ensureRegistered, RegistrationError } from "../../operator/registration.ts";
import { blsKeyPairFromSeed, hashG1 } from "../../protocol/bls/index.ts";
import { Role } from "../../protocol/eip712/index.ts";
import type { Deployment } from "../../protocol/contracts/deployments.ts";
import type { ChainConnection } from "../../runtime/chain.ts";
import { deploySystem, MIN_STAKE, STRATEGY, testAccount, wait, type Mode, type System } from "../helpers/contracts.ts";

const connection = await network.create();

function connect(sys: System, mode: Mode, account: PrivateKeyAccount): ChainConnection {
  const publicClient = sys.publicClient as PublicClient;
  const chain = publicClient.chain!;
  const deployment = {
    chainId: sys.chainId,
    mode,
    blockNumber: 0,
    contracts: {
      stakeToken: { address: sys.token.address },
      registry: { address: sys.registry.address },
      batchManager: { address: sys.batchManager.address },
      ...(sys.allocationManager ? { allocationManager: { address: sys.allocationManager.address } } : {}),
    },
  } as unknown as Deployment;
  return { chainId: sys.chainId, chain, publicClient, walletClient: createWalletClient({ chain, transport: custom(connection.provider), account }), account, deployment };
}

async function refused(call: Promise<unknown>, field: string): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof RegistrationError, String(error));
    assert.equal(error.field, field, error.message);
    return true;
  });
}

/** A native-mode system and an unregistered account holding gas and 150 stake tokens, with its signing key. */
async function fundedNative(system: string, name: string) {
  const sys = await deploySystem(connection, "native", system);
  const account = testAccount(`${name}-account`) as PrivateKeyAccount;
  const signer = testAccount(`${name}-signer`) as PrivateKeyAccount;
  await sys.fund(account.address);
  await wait(sys.publicClient, await sys.token.write.mint([account.address, parseEther("150")]));
  return { sys, account, signer, conn: connect(sys, "native", account) };
}

describe("operator self-registration", () => {
  it("native mode: approves and registers with the stake; then recognises itself; refuses mismatches", async () => {
    const { sys, account, signer, conn } = await fundedNative("registration", "reg-native");
    assert.equal(await ensureRegistered(conn, signer, MIN_STAKE), "registered");
    const [role, key] = await sys.registry.read.memberOf([account.address]);
    assert.equal(role, Role.Operator);
    assert.equal(key, signer.address);
    assert.equal((await sys.registry.read.stakeOf([account.address]))[0], MIN_STAKE);
    assert.equal(await ensureRegistered(conn, signer, MIN_STAKE), "already-registered");
    await refused(ensureRegistered(conn, testAccount("reg-other-signer") as PrivateKeyAccount, MIN_STAKE), "signer");
    await refused(ensureRegistered(conn, account, MIN_STAKE), "signer");

    const prover = await sys.addMember(Role.Prover);
    await refused(ensureRegistered(connect(sys, "native", prover.account as PrivateKeyAccount), testAccount("reg-x") as PrivateKeyAccount, MIN_STAKE), "account");
    const poor = testAccount("reg-poor") as PrivateKeyAccount;
    await sys.fund(poor.address);
    await refused(ensureRegistered(connect(sys, "native", poor), testAccount("reg-poor-signer") as PrivateKeyAccount, MIN_STAKE), "stake");
    await refused(ensureRegistered(connect(sys, "native", poor), testAccount("reg-poor-signer") as PrivateKeyAccount, 0n), "stake");
  });

  it("EigenLayer mode: registers through the AllocationManager once stake is allocated", async () => {
    const sys = await deploySystem(connection, "eigenlayer", "registration");
    const account = testAccount("reg-el-account") as PrivateKeyAccount;
    const signer = testAccount("reg-el-signer") as PrivateKeyAccount;
    await sys.fund(account.address);
    const conn = connect(sys, "eigenlayer", account);
    await assert.rejects(ensureRegistered(conn, signer, MIN_STAKE), /StakeBelowMinimum/, "nothing allocated yet");
    await wait(sys.publicClient, await sys.allocationManager!.write.setAllocation([account.address, { avs: sys.registry.address, id: 0 }, STRATEGY, MIN_STAKE]));
    assert.equal(await ensureRegistered(conn, signer, MIN_STAKE), "registered");
    const [role, key] = await sys.registry.read.memberOf([account.address]);
    assert.equal(role, Role.Operator);
    assert.equal(key, signer.address);
    const block = await sys.publicClient.getBlockNumber();
    assert.deepEqual(await sys.registry.read.signerWeightsAt([[signer.address], block]), [MIN_STAKE]);
    assert.equal(await ensureRegistered(conn, signer, MIN_STAKE), "already-registered");
  });

  it("binds a BLS key once with its proof of possession, recognises it, refuses another", async () => {
    const { sys, account, signer, conn } = await fundedNative("registration-bls", "reg-bls");
    const key = blsKeyPairFromSeed(`0x${"0b".repeat(32)}`);
    // Not an operator yet: no key can be bound (the registry would revert BLSKeyNotAllowed).
    await refused(ensureBlsKey(conn, key), "account");
    await ensureRegistered(conn, signer, MIN_STAKE);
    assert.equal(await ensureBlsKey(conn, key), "registered");
    assert.equal(await sys.registry.read.blsKeyHashOf([account.address]), hashG1(key.pubkeyG1));
    assert.equal(await ensureBlsKey(conn, key), "already-registered");
    await refused(ensureBlsKey(conn, blsKeyPairFromSeed(`0x${"0c".repeat(32)}`)), "blsKey");
  });
});
