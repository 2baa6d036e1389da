/**
 * An operator's standing in the registry and the transactions that change it, for the operator
 * CLI: status (registration, stake, signing key, BLS key, weight, recent verdicts), register (and
 * the BLS key's binding), deregister
 * (native mode: all active stake to unbonding; it stops counting as weight at once and stays
 * slashable until withdrawn) and withdraw (once the unbonding delay has passed). Every refusal
 * is checked before a transaction is sent and explained: not registered, registered as a prover,
 * insufficient stake or stake tokens, nothing to withdraw, still unbonding.
 */
import { BaseError, ContractFunctionRevertedError, formatEther, formatUnits, type Address, type Hex, type PublicClient } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { devStakeTokenAbi, stakeRegistryAbi } from "../../protocol/contracts/abis.ts";
import type { Deployment } from "../../protocol/contracts/deployments.ts";
import { Role } from "../../protocol/eip712/index.ts";
import { FieldError } from "../../protocol/errors.ts";
import type { ChainConnection } from "../../runtime/chain.ts";
import { ChainHistory, type VerdictView } from "../../runtime/chain-history.ts";
import type { BlsKeyPair } from "../../protocol/bls/index.ts";
import { ensureBlsKey, ensureRegistered, RegistrationError } from "../registration.ts";

/** A refused operation: says why and, where there is one, what to do instead. */
export class OperatorRefusal extends FieldError {
  override name = "OperatorRefusal";
}

export interface OperatorStatus {
  account: Address;
  mode: Deployment["mode"];
  chainId: number;
  registry: Address;
  role: "none" | "operator" | "prover";
  signingKey: Address | null;
  /** The hash of the BLS key bound to the account (null: none). */
  blsKeyHash: Hex | null;
  /** Whether the configured signing key is the registered one (null: none configured). */
  signerMatches: boolean | null;
  stake: { active: string; unbonding: string; releaseAt: string; withdrawableNow: boolean };
  weight: string;
  totalWeight: string;
  balances: { ether: string; stakeTokens: string };
  minOperatorStake: string;
  verdicts: { kind: VerdictView["kind"]; batchId: string; disputeId: string | null; block: string; tx: Hex }[];
}

const tokens = (wei: bigint) => `${formatUnits(wei, 18)} tokens`;

/** The custom error a reverted call carries, by name (e.g. "UnbondingNotOver"), if any. */
export function revertName(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined;
}

export class OperatorStake {
  private readonly registry: Address;

  constructor(
    private readonly client: PublicClient,
    private readonly deployment: Deployment,
    private readonly account: Address,
  ) {
    this.registry = deployment.contracts.registry.address;
  }

  async status(signer?: Address, verdicts = 10): Promise<OperatorStatus> {
    const read = (functionName: string, args: readonly unknown[], address: Address = this.registry, abi: readonly unknown[] = stakeRegistryAbi) =>
      this.client.readContract({ address, abi: abi as never, functionName: functionName as never, args: args as never });
    const [role, signingKey] = (await read("memberOf", [this.account])) as [number, Address];
    const native = this.deployment.mode === "native";
    const [active, unbonding, releaseAt] = native ? ((await read("stakeOf", [this.account])) as readonly [bigint, bigint, bigint]) : [0n, 0n, 0n];
    const head = await this.client.getBlock();
    const registered = role !== 0;
    const weight = registered ? ((await read("weightAt", [signingKey, head.number])) as bigint) : 0n;
    const totalWeight = (await read("totalWeightAt", [head.number])) as bigint;
    const blsKeyHash = (await read("blsKeyHashOf", [this.account])) as Hex;
    const history = new ChainHistory(this.client, this.deployment);
    await history.refresh();
    const member = history.member(this.account);
    return {
      account: this.account,
      mode: this.deployment.mode,
      chainId: this.deployment.chainId,
      registry: this.registry,
      role: role === Role.Operator ? "operator" : role === Role.Prover ? "prover" : "none",
      signingKey: registered ? signingKey : null,
      blsKeyHash: BigInt(blsKeyHash) === 0n ? null : blsKeyHash,
      signerMatches: signer && registered ? signer.toLowerCase() === signingKey.toLowerCase() : null,
      stake: { active: active.toString(), unbonding: unbonding.toString(), releaseAt: releaseAt.toString(), withdrawableNow: unbonding > 0n && head.timestamp >= releaseAt },
      weight: weight.toString(),
      totalWeight: totalWeight.toString(),
      balances: {
        ether: (await this.client.getBalance({ address: this.account })).toString(),
        stakeTokens: ((await read("balanceOf", [this.account], this.deployment.contracts.stakeToken.address, devStakeTokenAbi)) as bigint).toString(),
      },
      minOperatorStake: this.deployment.config.minOperatorStake,
      verdicts: (member?.verdicts ?? []).slice(0, verdicts).map((v) => ({ kind: v.kind, batchId: v.batchId.toString(), disputeId: v.disputeId?.toString() ?? null, block: v.block.toString(), tx: v.tx })),
    };
  }

  /** Binds `bls` to the (registered) account with its proof of possession, unless it already is. */
  async bindBlsKey(conn: ChainConnection, bls: BlsKeyPair): Promise<"registered" | "already-registered"> {
    try {
      return await ensureBlsKey(conn, bls);
    } catch (error) {
      if (error instanceof RegistrationError) throw new OperatorRefusal(error.message, error.field);
      throw error;
    }
  }

  /** Registers with `stake` (wei) unless registered; refuses too little stake or too few tokens. */
  async register(conn: ChainConnection, signer: PrivateKeyAccount, stake: bigint): Promise<"registered" | "already-registered"> {
    const minimum = BigInt(this.deployment.config.minOperatorStake);
    const status = await this.status(signer.address, 0);
    if (status.role === "operator") {
      if (!status.signerMatches) throw new OperatorRefusal(`already registered, with signing key ${status.signingKey}, not ${signer.address}`, "signer");
      return "already-registered";
    }
    if (status.role === "prover") throw new OperatorRefusal(`${this.account} is registered as a prover, not an operator`, "account");
    if (this.deployment.mode === "native") {
      if (stake < minimum) throw new OperatorRefusal(`insufficient stake: ${tokens(stake)} is below the minimum operator stake of ${tokens(minimum)} (--stake)`, "stake");
      const balance = BigInt(status.balances.stakeTokens);
      if (balance < stake) throw new OperatorRefusal(`insufficient stake tokens: ${this.account} holds ${tokens(balance)}, registering with ${tokens(stake)} needs them all`, "stake");
    }
    try {
      return await ensureRegistered(conn, signer, stake);
    } catch (error) {
      if (error instanceof RegistrationError) throw new OperatorRefusal(error.message, error.field);
      throw explain(error);
    }
  }

  /** Native mode: moves all active stake to unbonding. */
  async deregister(conn: ChainConnection): Promise<{ tx: Hex; amount: bigint; releaseAt: bigint }> {
    this.requireNative("deregister", "AllocationManager.deregisterFromOperatorSets(operator, avs, [0])");
    const status = await this.status(undefined, 0);
    this.requireOperator(status);
    const active = BigInt(status.stake.active);
    if (active === 0n) {
      const unbonding = BigInt(status.stake.unbonding);
      throw new OperatorRefusal(
        unbonding > 0n
          ? `already deregistered: ${tokens(unbonding)} unbonding, withdrawable from ${iso(BigInt(status.stake.releaseAt))} (npm run operator -- withdraw)`
          : "nothing to deregister: no active stake (and nothing unbonding)",
        "stake",
      );
    }
    const tx = await this.send(conn, "requestUnbond", [active]);
    const [, , releaseAt] = (await this.client.readContract({ address: this.registry, abi: stakeRegistryAbi, functionName: "stakeOf", args: [this.account] })) as readonly [bigint, bigint, bigint];
    return { tx, amount: active, releaseAt };
  }

  /** Native mode: withdraws unbonded stake once the delay has passed. */
  async withdraw(conn: ChainConnection): Promise<{ tx: Hex; amount: bigint }> {
    this.requireNative("withdraw", "EigenLayer's own withdrawal queue");
    const status = await this.status(undefined, 0);
    this.requireOperator(status);
    const unbonding = BigInt(status.stake.unbonding);
    if (unbonding === 0n) {
      throw new OperatorRefusal(BigInt(status.stake.active) > 0n ? "nothing to withdraw: all stake is active (npm run operator -- deregister first)" : "nothing to withdraw", "stake");
    }
    const releaseAt = BigInt(status.stake.releaseAt);
    const now = (await this.client.getBlock()).timestamp;
    if (now < releaseAt) {
      throw new OperatorRefusal(`still unbonding: ${tokens(unbonding)} withdrawable from ${iso(releaseAt)} (in ${releaseAt - now} s of chain time)`, "stake");
    }
    return { tx: await this.send(conn, "withdraw", []), amount: unbonding };
  }

  private requireNative(what: string, instead: string): void {
    if (this.deployment.mode !== "native") throw new OperatorRefusal(`${what} is for native staking; in EigenLayer mode use ${instead}`, "mode");
  }

  private requireOperator(status: OperatorStatus): void {
    if (status.role === "none") throw new OperatorRefusal(`not registered: ${this.account} is not a member of the registry ${this.registry} (npm run operator -- register)`, "account");
    if (status.role === "prover") throw new OperatorRefusal(`${this.account} is registered as a prover, not an operator`, "account");
  }

  private async send(conn: ChainConnection, functionName: "requestUnbond" | "withdraw", args: readonly unknown[]): Promise<Hex> {
    try {
      const { request } = await conn.publicClient.simulateContract({ address: this.registry, abi: stakeRegistryAbi, functionName, args: args as never, account: conn.account });
      const hash = await conn.walletClient.writeContract(request as never);
      const receipt = await conn.publicClient.waitForTransactionReceipt({ hash, timeout: 120_000 });
      if (receipt.status !== "success") throw new OperatorRefusal(`${functionName} reverted (tx ${hash})`, functionName);
      return hash;
    } catch (error) {
      throw explain(error);
    }
  }
}

/** A revert the checks above did not foresee (the chain moved meanwhile), in words. */
function explain(error: unknown): Error {
  const name = revertName(error);
  const words: Record<string, string> = {
    NotRegistered: "not registered",
    UnbondingNotOver: "still unbonding",
    NothingToWithdraw: "nothing to withdraw",
    InsufficientStake: "insufficient stake",
    StakeBelowMinimum: "insufficient stake: what would remain is below the minimum",
    AlreadyRegistered: "already registered",
    SigningKeyInUse: "the signing key is bound to another member",
  };
  if (name) return new OperatorRefusal(`${words[name] ?? name} (the registry refused: ${name})`, "chain");
  return error as Error;
}

function iso(unixSeconds: bigint): string {
  return new Date(Number(unixSeconds) * 1000).toISOString();
}

export function describeStatus(s: OperatorStatus): string[] {
  const lines = [`operator ${s.account} (${s.mode} staking, chain ${s.chainId}, registry ${s.registry})`];
  if (s.role === "none") lines.push("  registered   no (npm run operator -- register, or start the node: it registers itself)");
  else {
    const match = s.signerMatches === null ? "" : s.signerMatches ? " (the configured signer)" : " (NOT the configured signer)";
    lines.push(`  registered   yes, as ${s.role}; signing key ${s.signingKey}${match}`);
    if (s.role === "operator") lines.push(`  BLS key      ${s.blsKeyHash ?? "none bound (attestations are ECDSA only; register with a BLS key, or start the node with blsKey)"}`);
  }
  const unbonding = BigInt(s.stake.unbonding);
  lines.push(`  stake        ${tokens(BigInt(s.stake.active))} active; ${unbonding > 0n ? `${tokens(unbonding)} unbonding, withdrawable ${s.stake.withdrawableNow ? "now" : `from ${iso(BigInt(s.stake.releaseAt))}`}` : "nothing unbonding"} (minimum ${tokens(BigInt(s.minOperatorStake))})`);
  const total = BigInt(s.totalWeight);
  lines.push(`  weight       ${tokens(BigInt(s.weight))} of ${tokens(total)}${total > 0n ? ` (${(Number((BigInt(s.weight) * 10_000n) / total) / 100).toFixed(1)}%)` : ""}`);
  lines.push(`  balances     ${formatEther(BigInt(s.balances.ether))} ETH for gas, ${tokens(BigInt(s.balances.stakeTokens))} not staked`);
  const text = { attested: "attested batch", "vote-fraud": "voted fraud on batch", "vote-clean": "voted clean on batch", disputed: "disputed batch" } as const;
  lines.push(s.verdicts.length ? "  recent verdicts" : "  recent verdicts  none");
  for (const v of s.verdicts) lines.push(`    ${text[v.kind]} ${v.batchId}${v.disputeId ? ` (dispute ${v.disputeId})` : ""}  block ${v.block}  tx ${v.tx}`);
  return lines;
}
