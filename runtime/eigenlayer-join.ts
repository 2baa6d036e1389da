/**
 * An operator's way into the AVS on EigenLayer's real core, each step skipped when already done
 * (so a restarted node resumes where it stopped):
 *   1. DelegationManager.registerAsOperator(no delegation approver, allocationDelay, metadataURI);
 *   2. StrategyManager.depositIntoStrategy of the stake token, up to `stake` deposit shares;
 *   3. AllocationManager.modifyAllocations: `magnitude` (parts of 1e18) of every strategy of the
 *      AVS's operator set 0;
 *   4. wait out the allocation delay (the allocation counts from its effect block);
 *   5. then the caller registers for the set (registerForOperatorSets), which the AVS accepts only
 *      with slashable stake.
 */
import { erc20Abi, type Address, type Hex } from "viem";
import { eigenAllocationManagerAbi, eigenDelegationManagerAbi, eigenStrategyAbi, eigenStrategyManagerAbi } from "../protocol/contracts/abis.ts";
import type { EigenLayerCore } from "../protocol/contracts/deployments.ts";
import type { ChainConnection } from "./chain.ts";
import { FieldError } from "../protocol/errors.ts";

export class EigenLayerJoinError extends FieldError {
  override name = "EigenLayerJoinError";
}

/** A full allocation: all of the operator's stake in a strategy slashable by this AVS. */
export const FULL_MAGNITUDE = 10n ** 18n;

export interface EigenLayerJoinOptions {
  /** Deposit shares of the stake strategy to hold (deposited from the account's tokens as needed). */
  stake: bigint;
  /** Blocks between an allocation and its taking effect (set once, at registerAsOperator). */
  allocationDelay: number;
  /** Magnitude (parts of 1e18) of each strategy allocated to the operator set. */
  magnitude: bigint;
  metadataURI: string;
  /** How often to look at the chain while waiting for the allocation (ms). */
  pollMs?: number;
  /** Longest wait for the allocation to take effect (ms). */
  maxWaitMs?: number;
  /** Progress: one line per step taken. */
  onStep?: (step: JoinStep, detail: Record<string, unknown>) => void;
  /** Called on each poll while the allocation is pending (a development chain may mine here). */
  onWait?: (head: number, effectBlock: number) => void | Promise<void>;
}

export type JoinStep = "registered-as-operator" | "deposited" | "allocated" | "allocation-effective";

async function send(conn: ChainConnection, address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]): Promise<Hex> {
  const { publicClient, walletClient, account } = conn;
  const { request } = await publicClient.simulateContract({ address, abi: abi as never, functionName: functionName as never, args: args as never, account });
  const hash = await walletClient.writeContract(request as never);
  const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 120_000 });
  if (receipt.status !== "success") throw new EigenLayerJoinError(`${functionName} reverted (tx ${hash})`, functionName);
  return hash;
}

/** Runs steps 1-4 for `conn.account` against `core`, for operator set `setId` of `avs`. */
export async function joinEigenLayer(conn: ChainConnection, core: EigenLayerCore, avs: Address, setId: number, options: EigenLayerJoinOptions): Promise<JoinStep[]> {
  const { publicClient, account } = conn;
  const operator = account.address;
  const steps: JoinStep[] = [];
  const note = (step: JoinStep, detail: Record<string, unknown>) => {
    steps.push(step);
    options.onStep?.(step, detail);
  };
  if (options.magnitude <= 0n || options.magnitude > FULL_MAGNITUDE) {
    throw new EigenLayerJoinError(`magnitude must be in 1..1e18, got ${options.magnitude}`, "magnitude");
  }
  if (!Number.isSafeInteger(options.allocationDelay) || options.allocationDelay < 0 || options.allocationDelay > 0xffffffff) {
    throw new EigenLayerJoinError(`allocationDelay must be a block count, got ${options.allocationDelay}`, "allocationDelay");
  }
  const stakeStrategy = core.strategies[0];
  if (!stakeStrategy) throw new EigenLayerJoinError("the deployment names no strategy", "eigenLayer.strategies");

  // 1. An EigenLayer operator, delegated to itself.
  const isOperator = await publicClient.readContract({ address: core.delegationManager, abi: eigenDelegationManagerAbi, functionName: "isOperator", args: [operator] });
  if (!isOperator) {
    await send(conn, core.delegationManager, eigenDelegationManagerAbi, "registerAsOperator", [
      "0x0000000000000000000000000000000000000000", options.allocationDelay, options.metadataURI,
    ]);
    note("registered-as-operator", { allocationDelay: options.allocationDelay });
  }

  // 2. Deposit shares of the stake strategy.
  const held = await publicClient.readContract({ address: core.strategyManager, abi: eigenStrategyManagerAbi, functionName: "stakerDepositShares", args: [operator, stakeStrategy] });
  if (held < options.stake) {
    const token = await publicClient.readContract({ address: stakeStrategy, abi: eigenStrategyAbi, functionName: "underlyingToken" });
    const missingShares = options.stake - held;
    // A fresh StrategyBase mints one share per token; a strategy that earned or lost value
    // does not, so ask it what the missing shares cost.
    const amount = await publicClient.readContract({ address: stakeStrategy, abi: eigenStrategyAbi, functionName: "sharesToUnderlyingView", args: [missingShares] });
    const balance = await publicClient.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [operator] });
    if (balance < amount) throw new EigenLayerJoinError(`account ${operator} holds ${balance} of the stake token, needs ${amount} to deposit`, "stake");
    await send(conn, token, erc20Abi, "approve", [core.strategyManager, amount]);
    await send(conn, core.strategyManager, eigenStrategyManagerAbi, "depositIntoStrategy", [stakeStrategy, token, amount]);
    note("deposited", { token, amount: amount.toString() });
  }

  // 3. Allocate magnitude of every strategy of the set.
  const operatorSet = { avs, id: setId };
  const strategies = (await publicClient.readContract({ address: core.allocationManager, abi: eigenAllocationManagerAbi, functionName: "getStrategiesInOperatorSet", args: [operatorSet] })) as readonly Address[];
  if (strategies.length === 0) throw new EigenLayerJoinError(`operator set ${setId} of ${avs} has no strategies (is the AVS initialized?)`, "avs");
  let effectBlock = 0;
  const toAllocate: Address[] = [];
  for (const strategy of strategies) {
    const a = await publicClient.readContract({ address: core.allocationManager, abi: eigenAllocationManagerAbi, functionName: "getAllocation", args: [operator, operatorSet, strategy] });
    const target = BigInt(a.currentMagnitude) + BigInt(a.pendingDiff);
    if (a.pendingDiff !== 0n) effectBlock = Math.max(effectBlock, a.effectBlock);
    if (target < options.magnitude && a.pendingDiff === 0n) toAllocate.push(strategy);
  }
  if (toAllocate.length > 0) {
    const hash = await send(conn, core.allocationManager, eigenAllocationManagerAbi, "modifyAllocations", [
      operator, [{ operatorSet, strategies: toAllocate, newMagnitudes: toAllocate.map(() => options.magnitude) }],
    ]);
    const receipt = await publicClient.getTransactionReceipt({ hash });
    const [, delay] = await publicClient.readContract({ address: core.allocationManager, abi: eigenAllocationManagerAbi, functionName: "getAllocationDelay", args: [operator] });
    effectBlock = Math.max(effectBlock, Number(receipt.blockNumber) + delay);
    note("allocated", { strategies: toAllocate, magnitude: options.magnitude.toString(), effectBlock });
  }

  // 4. The allocation counts from its effect block. The AVS reads it when the registration is
  // simulated against the head, so the head must have reached it.
  if (effectBlock > 0) {
    const pollMs = options.pollMs ?? 2000;
    const deadline = Date.now() + (options.maxWaitMs ?? 3_600_000);
    for (;;) {
      const head = Number(await publicClient.getBlockNumber());
      if (head >= effectBlock) break;
      if (Date.now() > deadline) throw new EigenLayerJoinError(`allocation still pending at block ${head} (effective at ${effectBlock})`, "allocationDelay");
      await options.onWait?.(head, effectBlock);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    note("allocation-effective", { effectBlock });
  }
  return steps;
}
