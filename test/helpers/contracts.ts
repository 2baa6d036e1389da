/**
 * Builds the contract system on Hardhat's in-process network for tests and the gas report:
 * native mode (DevStakeToken + StakeRegistry + BatchManager) or EigenLayer mode
 * (MockAllocationManager + EigenServiceManager + BatchManager), plus members and batches.
 */
import assert from "node:assert/strict";
import {
  zeroAddress,
  createWalletClient,
  custom,
  encodeAbiParameters,
  getContract,
  keccak256,
  parseEther,
  toHex,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TestClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  batchManagerAbi,
  devStakeTokenAbi,
  eigenAllocationManagerAbi,
  eigenServiceManagerAbi,
  mockAllocationManagerAbi,
  modelRegistryAbi,
  stakeRegistryAbi,
} from "../../protocol/contracts/abis.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deploy } from "../../scripts/deploy.ts";
import { FULL_MAGNITUDE, joinEigenLayer } from "../../runtime/eigenlayer-join.ts";
import type { EigenLayerCore } from "../../protocol/contracts/deployments.ts";
import type { ChainConnection } from "../../runtime/chain.ts";
import { BatchMerkleTree, hashLeafFields, type InferenceLeafFields } from "../../protocol/merkle/index.ts";
import {
  protocolDomain,
  Role,
  signAttestation,
  signDisputeVote,
  signRegistration,
  sortBySigner,
  Verdict,
  type ProtocolDomain,
} from "../../protocol/eip712/index.ts";

/** native: StakeRegistry; eigenlayer: the MockAllocationManager stand-in; eigenlayer-core: EigenLayer's real core. */
export type Mode = "native" | "eigenlayer" | "eigenlayer-core";

export const TEST_CONFIG = {
  attestThresholdBps: 6666,
  voteThresholdBps: 5000,
  responseWindow: 600,
  challengeWindow: 3600,
  votingWindow: 1800,
  proverSlashBps: 5000,
  operatorSlashBps: 1000,
  challengerRewardBps: 5000,
  disputeBond: parseEther("10"),
} as const;
export const UNBONDING_DELAY = 7200n;
/** The model id test batches are submitted under, and the profile hash bound to it. */
export const TEST_MODEL = "model";
export const TEST_PROFILE_HASH: Hex = keccak256(toHex("test profile"));
export const MIN_STAKE = parseEther("100");
export const STRATEGY: Address = "0x0000000000000000000000000000000000005747";
const OPERATOR_SET = 0;
const PROVER_SET = 1;

/** A member: the staking account and its separate signing key. */
export interface Member {
  account: LocalAccount;
  signingKey: LocalAccount;
}

/** A deterministic local account, so failures reproduce. */
export function testAccount(label: string): LocalAccount {
  return privateKeyToAccount(keccak256(toHex(`verifiable-benchmarks test key ${label}`)));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Connection = { viem: any; provider: any };

export async function deploySystem(connection: Connection, mode: Mode, label = "") {
  const { viem, provider } = connection;
  const publicClient: PublicClient = await viem.getPublicClient();
  const testClient: TestClient = await viem.getTestClient();
  const deployerClient: WalletClient<Transport, Chain, Account> = (await viem.getWalletClients())[0];
  const deployer: Address = deployerClient.account.address;
  const chainId: number = await publicClient.getChainId();
  const wallet = createWalletClient({ chain: publicClient.chain, transport: custom(provider, { retryCount: 0 }) });

  let allocationManager;
  let registryAddress: Address = zeroAddress;
  let core: EigenLayerCore | undefined;
  let coreToken: Address | undefined;
  if (mode === "eigenlayer-core") {
    // The real path: scripts/deploy.ts deploys EigenLayer's core, then the AVS and the BatchManager.
    const outDir = mkdtempSync(path.join(tmpdir(), "vb-el-core-"));
    const deployment = await deploy(
      { rpcUrl: "in-process", mode: "eigenlayer", outDir, profiles: [], config: { ...TEST_CONFIG, disputeBond: TEST_CONFIG.disputeBond.toString(), unbondingDelay: Number(UNBONDING_DELAY), minOperatorStake: MIN_STAKE.toString(), minProverStake: MIN_STAKE.toString() } },
      { publicClient, walletClient: deployerClient, account: deployerClient.account },
    );
    rmSync(outDir, { recursive: true, force: true });
    core = deployment.eigenLayer!;
    coreToken = deployment.contracts.stakeToken.address;
    registryAddress = deployment.contracts.registry.address;
  }
  const tokenAddress: Address = coreToken ?? (await viem.deployContract("DevStakeToken", [deployer])).address;
  const token = getContract({ address: tokenAddress, abi: devStakeTokenAbi, client: { public: publicClient, wallet: deployerClient } });
  if (mode === "eigenlayer-core") {
    // deployed above
  } else if (mode === "native") {
    const r = await viem.deployContract("StakeRegistry", [token.address, MIN_STAKE, MIN_STAKE, UNBONDING_DELAY, deployer]);
    registryAddress = r.address;
  } else {
    const am = await viem.deployContract("MockAllocationManager", []);
    allocationManager = getContract({ address: am.address as Address, abi: mockAllocationManagerAbi, client: { public: publicClient, wallet: deployerClient } });
    const r = await viem.deployContract("EigenServiceManager", [am.address, [STRATEGY], MIN_STAKE, MIN_STAKE, UNBONDING_DELAY, 10, deployer, token.address, zeroAddress]);
    registryAddress = r.address;
  }
  const registry = getContract({ address: registryAddress, abi: stakeRegistryAbi, client: { public: publicClient, wallet: deployerClient } });
  const serviceManager = getContract({ address: registryAddress, abi: eigenServiceManagerAbi, client: { public: publicClient, wallet: deployerClient } });
  let modelRegistryAddress: Address;
  let batchManagerAddress: Address;
  if (mode === "eigenlayer-core") {
    batchManagerAddress = (await publicClient.readContract({ address: registryAddress, abi: stakeRegistryAbi, functionName: "slasher" })) as Address;
    modelRegistryAddress = (await publicClient.readContract({ address: batchManagerAddress, abi: batchManagerAbi, functionName: "models" })) as Address;
  } else {
    modelRegistryAddress = (await viem.deployContract("ModelRegistry", [deployer])).address;
  }
  const modelRegistry = getContract({ address: modelRegistryAddress, abi: modelRegistryAbi, client: { public: publicClient, wallet: deployerClient } });
  // The model every test batch names, bound to a (placeholder) profile.
  await wait(publicClient, await modelRegistry.write.setModelProfile([TEST_MODEL, TEST_PROFILE_HASH, keccak256(toHex("test weights")), ""]));
  if (mode !== "eigenlayer-core") {
    batchManagerAddress = (await viem.deployContract("BatchManager", [registryAddress, modelRegistryAddress, token.address, deployer, TEST_CONFIG])).address;
    await wait(publicClient, await deployerClient.writeContract({ address: registryAddress, abi: stakeRegistryAbi, functionName: "setSlasher", args: [batchManagerAddress] }));
  }
  const batchManager = getContract({ address: batchManagerAddress!, abi: batchManagerAbi, client: { public: publicClient, wallet: deployerClient } });
  if (mode === "eigenlayer") {
    await wait(publicClient, await serviceManager.write.initializeAVS(["https://example.invalid/avs.json"]));
  }

  const registryDomain: ProtocolDomain = protocolDomain(chainId, registryAddress);
  const batchDomain: ProtocolDomain = protocolDomain(chainId, batchManager.address);
  let nextMember = 0;

  /** Sends a transaction from a local account (funded on demand) and waits for it. */
  async function sendAs(account: LocalAccount, address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]): Promise<Hex> {
    const hash = await wallet.writeContract({ account, address, abi: abi as never, functionName: functionName as never, args: args as never, chain: publicClient.chain });
    await wait(publicClient, hash);
    return hash;
  }

  async function fund(address: Address): Promise<void> {
    await testClient.setBalance({ address, value: parseEther("1000") });
  }

  /** Registers a new operator or prover with `stake`, signing key proven by EIP-712. */
  async function addMember(role: 1 | 2, stake: bigint = MIN_STAKE): Promise<Member> {
    const n = nextMember++;
    const member = { account: testAccount(`${label}${mode}-account-${n}`), signingKey: testAccount(`${label}${mode}-signer-${n}`) };
    await fund(member.account.address);
    const deadline = BigInt(2 ** 40);
    const signature = await signRegistration(member.signingKey, registryDomain, {
      operator: member.account.address, signingKey: member.signingKey.address, role, deadline,
    });
    if (mode === "eigenlayer-core") {
      // EigenLayer's own path: registerAsOperator, deposit, modifyAllocations, the delay, registerForOperatorSets.
      const setId = role === Role.Operator ? OPERATOR_SET : PROVER_SET;
      await wait(publicClient, await token.write.mint([member.account.address, stake]));
      const conn = {
        chainId, chain: publicClient.chain!, publicClient, account: member.account,
        walletClient: createWalletClient({ chain: publicClient.chain, transport: custom(provider, { retryCount: 0 }), account: member.account }),
      } as unknown as ChainConnection;
      await joinEigenLayer(conn, core!, registryAddress, setId, {
        stake, allocationDelay: 1, magnitude: FULL_MAGNITUDE, metadataURI: "", pollMs: 1, onWait: () => testClient.mine({ blocks: 1 }),
      });
      const data = encodeAbiParameters([{ type: "address" }, { type: "uint256" }, { type: "bytes" }], [member.signingKey.address, deadline, signature]);
      await sendAs(member.account, core!.allocationManager, eigenAllocationManagerAbi, "registerForOperatorSets", [
        member.account.address, { avs: registryAddress, operatorSetIds: [setId], data },
      ]);
    } else if (mode === "native") {
      await wait(publicClient, await token.write.mint([member.account.address, stake]));
      await sendAs(member.account, token.address, devStakeTokenAbi, "approve", [registryAddress, stake]);
      await sendAs(member.account, registryAddress, stakeRegistryAbi, "register", [role, stake, member.signingKey.address, deadline, signature]);
    } else {
      const setId = role === Role.Operator ? OPERATOR_SET : PROVER_SET;
      await wait(publicClient, await allocationManager!.write.setAllocation([member.account.address, { avs: registryAddress, id: setId }, STRATEGY, stake]));
      const data = encodeAbiParameters([{ type: "address" }, { type: "uint256" }, { type: "bytes" }], [member.signingKey.address, deadline, signature]);
      await sendAs(member.account, allocationManager!.address, mockAllocationManagerAbi, "registerForOperatorSets", [
        member.account.address, { avs: registryAddress, operatorSetIds: [setId], data },
      ]);
    }
    return member;
  }

  /** Mints bond tokens to `account` and approves the BatchManager. */
  async function fundBond(account: LocalAccount, amount: bigint = TEST_CONFIG.disputeBond): Promise<void> {
    await fund(account.address);
    await wait(publicClient, await token.write.mint([account.address, amount]));
    await sendAs(account, token.address, devStakeTokenAbi, "approve", [batchManager.address, amount]);
  }

  /** Submits a batch of `leaves` from `prover`; returns its id, tree and leaves. */
  async function submitBatch(prover: Member, leaves: InferenceLeafFields[] = randomLeaves(4, 1)) {
    const tree = BatchMerkleTree.fromLeafHashes(leaves.map((l) => hashLeafFields(l)));
    await sendAs(prover.account, batchManager.address, batchManagerAbi, "submitBatch", [
      keccak256(toHex(TEST_MODEL)), keccak256(toHex("envelope")), tree.root, BigInt(leaves.length), "http://127.0.0.1/batches/1",
    ]);
    const batchId = await batchManager.read.batchCount();
    return { batchId, tree, leaves };
  }

  /** Signs an attestation with each signer, sorted by signer address (as attest wants). */
  async function attestationSignatures(batchId: bigint, root: Hex, signers: Member[], leavesChecked = 4, domain = batchDomain) {
    const signed = await Promise.all(signers.map((m) => signAttestation(m.signingKey, domain, { batchId, root, verdict: Verdict.Valid, leavesChecked })));
    return sortBySigner(signed);
  }

  async function attest(batchId: bigint, root: Hex, signers: Member[]) {
    const sorted = await attestationSignatures(batchId, root, signers);
    const hash = await batchManager.write.attest([batchId, root, Verdict.Valid, 4, sorted.map((s) => s.signature)]);
    await wait(publicClient, hash);
    return sorted.map((s) => s.signer);
  }

  async function votes(disputeId: bigint, batchId: bigint, leafHash: Hex, ballots: { member: Member; fraud: boolean }[]) {
    const signed = await Promise.all(ballots.map((b) => signDisputeVote(b.member.signingKey, batchDomain, { disputeId, batchId, leafHash, fraud: b.fraud })));
    return sortBySigner(signed).map((s) => s.signature);
  }

  async function advance(seconds: number | bigint): Promise<void> {
    await testClient.increaseTime({ seconds: Number(seconds) });
    await testClient.mine({ blocks: 1 });
  }

  return {
    mode, viem, publicClient, testClient, deployer, chainId, token, registry, serviceManager, allocationManager, core, batchManager, modelRegistry,
    registryDomain, batchDomain, addMember, fundBond, submitBatch, attestationSignatures, attest, votes, advance, sendAs, fund,
  };
}

export type System = Awaited<ReturnType<typeof deploySystem>>;

export async function wait(publicClient: { waitForTransactionReceipt(a: { hash: Hex }): Promise<{ status: string }> }, hash: Hex): Promise<void> {
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, "success");
}

/** Leaves with distinct, seeded field values. */
export function randomLeaves(count: number, seed: number): InferenceLeafFields[] {
  const h = (s: string): Hex => keccak256(toHex(`${seed}:${s}`));
  return Array.from({ length: count }, (_, i) => ({
    modelId: h("model"),
    promptHash: h(`prompt ${i}`),
    outputHash: h(`output ${i}`),
    samplingHash: h("sampling"),
    seed: BigInt(seed * 1_000_003 + i),
    proofsHash: h(`proofs ${i}`),
  }));
}

/** Asserts that `call` rejects with a message naming `errorName` (viem decodes custom errors by ABI). */
export async function assertRevertsWith(call: Promise<unknown>, errorName: string): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.match(String((err as Error).message), new RegExp(`\\b${errorName}\\b`));
    return true;
  });
}
