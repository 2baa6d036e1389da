/**
 * Operator-directed rewards for attestations, through the service manager and EigenLayer's
 * RewardsCoordinator: every signer of a batch that was attested and then finalized between two
 * blocks earns `perAttestation` reward tokens (a slashed batch earns nothing), paid from the
 * AVS's rewards pool as one submission over the last complete calculation interval (EigenLayer
 * takes operator-directed rewards only for a period that has ended).
 *
 *   npm run rewards -- --rpc URL --deployment deployments/31337.json --from-block N [--to-block M]
 *        --per-attestation 1000000000000000000 [--fund]
 *
 * The caller's key (REWARDS_PRIVATE_KEY, else the node's first unlocked account) must be the
 * service manager's rewardsInitiator; --fund first tops the rewards pool up from the caller.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPublicClient, createWalletClient, http, type Account, type Address, type Hex, type PublicClient, type WalletClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { batchManagerAbi, devStakeTokenAbi, eigenServiceManagerAbi, stakeRegistryAbi } from "../../protocol/contracts/abis.ts";
import type { Deployment } from "../../protocol/contracts/deployments.ts";
import { FieldError } from "../../protocol/errors.ts";
import { BlsKeyDirectory } from "../../runtime/bls-key-directory.ts";
import { readDeploymentFile } from "../../runtime/chain.ts";

export class RewardsError extends FieldError {
  override name = "RewardsError";
}

const FINALIZED = 6;

export interface OperatorReward {
  operator: Address;
  amount: bigint;
}

/** What each operator earned for attesting batches finalized in [fromBlock, toBlock], ascending by operator. */
export async function attestationRewards(publicClient: PublicClient, deployment: Deployment, range: { fromBlock: bigint; toBlock: bigint }, perAttestation: bigint): Promise<OperatorReward[]> {
  const batchManager = deployment.contracts.batchManager.address;
  const attested = await publicClient.getContractEvents({ address: batchManager, abi: batchManagerAbi, eventName: "BatchAttested", fromBlock: range.fromBlock, toBlock: range.toBlock });
  // A BLS certificate's BatchAttested lists no signers: they are every key in force but the non-signers.
  const certificates = new Map<bigint, readonly Hex[]>();
  for (const log of await publicClient.getContractEvents({ address: batchManager, abi: batchManagerAbi, eventName: "BatchAttestedBLS", fromBlock: range.fromBlock, toBlock: range.toBlock })) {
    const { batchId, nonSignerKeyHashes } = log.args as { batchId: bigint; nonSignerKeyHashes: readonly Hex[] };
    certificates.set(batchId, nonSignerKeyHashes);
  }
  const blsKeys = new BlsKeyDirectory({ publicClient, registry: deployment.contracts.registry.address, fromBlock: BigInt(deployment.blockNumber), logRange: 10_000 });
  const owed = new Map<Address, bigint>();
  const operatorOf = new Map<Address, Address>();
  for (const log of attested) {
    const { batchId, signers: listed } = log.args as { batchId: bigint; signers: readonly Address[] };
    const batch = (await publicClient.readContract({ address: batchManager, abi: batchManagerAbi, functionName: "getBatch", args: [batchId] })) as { state: number; refBlock: number | bigint };
    if (batch.state !== FINALIZED) continue;
    const nonSigners = certificates.get(batchId);
    const signers = nonSigners ? await blsKeys.signersOf(BigInt(batch.refBlock), nonSigners) : listed;
    for (const signer of signers) {
      let operator = operatorOf.get(signer);
      if (!operator) {
        operator = (await publicClient.readContract({ address: deployment.contracts.registry.address, abi: stakeRegistryAbi, functionName: "operatorOfSigner", args: [signer] })) as Address;
        operatorOf.set(signer, operator);
      }
      if (operator === "0x0000000000000000000000000000000000000000") continue;
      owed.set(operator, (owed.get(operator) ?? 0n) + perAttestation);
    }
  }
  return [...owed].map(([operator, amount]) => ({ operator, amount })).sort((a, b) => (BigInt(a.operator) < BigInt(b.operator) ? -1 : 1));
}

/** The last calculation interval that has ended by `now` (unix seconds). */
export function lastCompleteInterval(now: bigint, interval: bigint): { startTimestamp: number; duration: number } {
  const start = (now / interval) * interval - interval;
  return { startTimestamp: Number(start), duration: Number(interval) };
}

/** Submits `rewards` through the service manager; returns the transaction hash. */
export async function submitRewards(
  clients: { publicClient: PublicClient; walletClient: WalletClient; account: Account | Address },
  deployment: Deployment,
  rewards: OperatorReward[],
  description: string,
): Promise<Hex> {
  if (deployment.mode !== "eigenlayer" || !deployment.eigenLayer) throw new RewardsError("operator-directed rewards need an EigenLayer-mode deployment on EigenLayer's core", "deployment");
  if (rewards.length === 0) throw new RewardsError("no operator earned anything in this range", "rewards");
  const { publicClient, walletClient, account } = clients;
  const now = (await publicClient.getBlock()).timestamp;
  const period = lastCompleteInterval(now, BigInt(deployment.eigenLayer.calculationIntervalSeconds));
  const hash = await walletClient.writeContract({
    address: deployment.contracts.registry.address, abi: eigenServiceManagerAbi, functionName: "submitOperatorRewards",
    args: [rewards, period.startTimestamp, period.duration, description], account, chain: null,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new RewardsError(`submitOperatorRewards reverted (tx ${hash})`, "rewards");
  return hash;
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith("--")) throw new RewardsError(`${name} needs a value`, name);
  return value;
}

function integerFlag(argv: string[], name: string): bigint | undefined {
  const value = flag(argv, name);
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,78}$/.test(value)) throw new RewardsError(`${name} must be a non-negative integer, got ${value}`, name);
  return BigInt(value);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv.includes("--help")) {
    console.log("usage: npm run rewards -- --deployment FILE --from-block N [--to-block M] --per-attestation WEI [--rpc URL] [--fund]");
    process.exit(0);
  }
  const rpcUrl = flag(argv, "--rpc") ?? "http://127.0.0.1:8545";
  const deploymentFile = flag(argv, "--deployment");
  if (!deploymentFile) throw new RewardsError("--deployment is required", "--deployment");
  const deployment = readDeploymentFile(deploymentFile);
  const transport = http(rpcUrl);
  const publicClient = createPublicClient({ transport }) as PublicClient;
  const walletClient = createWalletClient({ transport });
  const key = process.env.REWARDS_PRIVATE_KEY;
  const account: Account | Address = key ? privateKeyToAccount(key as Hex) : (await walletClient.getAddresses())[0]!;
  const fromBlock = integerFlag(argv, "--from-block");
  if (fromBlock === undefined) throw new RewardsError("--from-block is required", "--from-block");
  const toBlock = integerFlag(argv, "--to-block") ?? (await publicClient.getBlockNumber());
  const per = integerFlag(argv, "--per-attestation");
  if (!per) throw new RewardsError("--per-attestation must be a positive amount", "--per-attestation");
  const rewards = await attestationRewards(publicClient, deployment, { fromBlock, toBlock }, per);
  const total = rewards.reduce((s, r) => s + r.amount, 0n);
  if (argv.includes("--fund")) {
    const token = deployment.contracts.stakeToken.address;
    const registry = deployment.contracts.registry.address;
    await publicClient.waitForTransactionReceipt({ hash: await walletClient.writeContract({ address: token, abi: devStakeTokenAbi, functionName: "approve", args: [registry, total], account, chain: null }) });
    await publicClient.waitForTransactionReceipt({ hash: await walletClient.writeContract({ address: registry, abi: eigenServiceManagerAbi, functionName: "fundPool", args: [1, total], account, chain: null }) });
  }
  const hash = await submitRewards({ publicClient, walletClient, account }, deployment, rewards, `attestations in blocks ${fromBlock}..${toBlock}`);
  for (const r of rewards) console.log(`  ${r.operator} ${r.amount}`);
  console.log(`submitted ${rewards.length} operator rewards, ${total} in all (tx ${hash})`);
}
