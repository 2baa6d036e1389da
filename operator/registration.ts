/**
 * Joining the operator set when the account is not a member yet. Native mode: approve the stake
 * token and StakeRegistry.register(1, stake, signingKey, deadline, signature). EigenLayer mode:
 * on EigenLayer's core (the deployment names it), the real path of runtime/eigenlayer-join.ts
 * (registerAsOperator, deposit, modifyAllocations, the allocation delay), then
 * AllocationManager.registerForOperatorSets(account, { avs, [0], abi.encode(signingKey, deadline,
 * signature) }); with the unit tests' stand-in (no core named) the allocation is the test's.
 * Either way the signing key proves itself with an EIP-712 Registration signature.
 */
import { encodeAbiParameters, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { blsSign, g1Words, g2Words, hashG1, type BlsKeyPair } from "../protocol/bls/index.ts";
import { allocationManagerAbi, devStakeTokenAbi, stakeRegistryAbi } from "../protocol/contracts/abis.ts";
import { protocolDomain, Role, signRegistration } from "../protocol/eip712/index.ts";
import type { ChainConnection } from "../runtime/chain.ts";
import { FieldError } from "../protocol/errors.ts";
import { EigenLayerJoinError, FULL_MAGNITUDE, joinEigenLayer, type EigenLayerJoinOptions } from "../runtime/eigenlayer-join.ts";

export class RegistrationError extends FieldError {
  override name = "RegistrationError";
}

const OPERATOR_SET_ID = 0;

export type RegistrationOutcome = "already-registered" | "registered";

async function send(conn: ChainConnection, address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]): Promise<Hex> {
  const { publicClient, walletClient, account } = conn;
  const { request } = await publicClient.simulateContract({ address, abi: abi as never, functionName: functionName as never, args: args as never, account });
  const hash = await walletClient.writeContract(request as never);
  const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 120_000 });
  if (receipt.status !== "success") throw new RegistrationError(`${functionName} reverted (tx ${hash})`, functionName);
  return hash;
}

/** Registers `conn.account` as an operator bound to `signer` unless it already is; refuses a mismatch. */
export async function ensureRegistered(
  conn: ChainConnection,
  signer: PrivateKeyAccount,
  stake: bigint,
  eigenLayer: Partial<Omit<EigenLayerJoinOptions, "stake">> = {},
): Promise<RegistrationOutcome> {
  const { publicClient, account, deployment, chainId } = conn;
  const registry = deployment.contracts.registry.address;
  if (account.address.toLowerCase() === signer.address.toLowerCase()) {
    throw new RegistrationError("signer must be a different key from account (the registry refuses it)", "signer");
  }
  const [role, signingKey] = (await publicClient.readContract({ address: registry, abi: stakeRegistryAbi, functionName: "memberOf", args: [account.address] })) as [number, Address];
  if (role === Role.Operator) {
    if (signingKey.toLowerCase() !== signer.address.toLowerCase()) {
      throw new RegistrationError(`account ${account.address} is registered with signing key ${signingKey}, not ${signer.address}`, "signer");
    }
    return "already-registered";
  }
  if (role !== 0) throw new RegistrationError(`account ${account.address} is registered as a prover, not an operator`, "account");
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const signature = await signRegistration(signer, protocolDomain(chainId, registry), {
    operator: account.address, signingKey: signer.address, role: Role.Operator, deadline,
  });
  if (deployment.mode === "eigenlayer") {
    const allocationManager = deployment.contracts.allocationManager?.address;
    if (!allocationManager) throw new RegistrationError("the deployment names no allocationManager", "chain.deployment");
    if (deployment.eigenLayer) {
      if (stake === 0n) throw new RegistrationError(`account ${account.address} is not registered and stake is 0`, "stake");
      try {
        await joinEigenLayer(conn, deployment.eigenLayer, registry, OPERATOR_SET_ID, {
          allocationDelay: 1, magnitude: FULL_MAGNITUDE, metadataURI: "", ...eigenLayer, stake,
        });
      } catch (error) {
        if (error instanceof EigenLayerJoinError) throw new RegistrationError(error.message, error.field);
        throw error;
      }
    }
    const data = encodeAbiParameters([{ type: "address" }, { type: "uint256" }, { type: "bytes" }], [signer.address, deadline, signature]);
    await send(conn, allocationManager, allocationManagerAbi, "registerForOperatorSets", [
      account.address, { avs: registry, operatorSetIds: [OPERATOR_SET_ID], data },
    ]);
    return "registered";
  }
  if (stake === 0n) throw new RegistrationError(`account ${account.address} is not registered and stake is 0`, "stake");
  const token = deployment.contracts.stakeToken.address;
  const balance = (await publicClient.readContract({ address: token, abi: devStakeTokenAbi, functionName: "balanceOf", args: [account.address] })) as bigint;
  if (balance < stake) throw new RegistrationError(`account ${account.address} holds ${balance} stake tokens, needs ${stake}`, "stake");
  await send(conn, token, devStakeTokenAbi, "approve", [registry, stake]);
  await send(conn, registry, stakeRegistryAbi, "register", [Role.Operator, stake, signer.address, deadline, signature]);
  return "registered";
}

export type BlsKeyOutcome = "already-registered" | "registered";

/**
 * Binds `bls` to the operator `conn.account` (a member by now) unless it already is: the key's
 * proof of possession is its signature over the registry's blsRegistrationMessage(account).
 * An account bound to another BLS key is refused: a key is bound once.
 */
export async function ensureBlsKey(conn: ChainConnection, bls: BlsKeyPair): Promise<BlsKeyOutcome> {
  const { publicClient, account, deployment } = conn;
  const registry = deployment.contracts.registry.address;
  const ours = hashG1(bls.pubkeyG1);
  const [role] = (await publicClient.readContract({ address: registry, abi: stakeRegistryAbi, functionName: "memberOf", args: [account.address] })) as [number, Address];
  if (role !== Role.Operator) throw new RegistrationError(`account ${account.address} is not a registered operator: a BLS key is bound after registration`, "account");
  const bound = (await publicClient.readContract({ address: registry, abi: stakeRegistryAbi, functionName: "blsKeyHashOf", args: [account.address] })) as Hex;
  if (BigInt(bound) !== 0n) {
    if (bound.toLowerCase() !== ours.toLowerCase()) throw new RegistrationError(`account ${account.address} is bound to BLS key ${bound}, not to this one (${ours})`, "blsKey");
    return "already-registered";
  }
  const message = (await publicClient.readContract({ address: registry, abi: stakeRegistryAbi, functionName: "blsRegistrationMessage", args: [account.address] })) as Hex;
  await send(conn, registry, stakeRegistryAbi, "registerBLSKey", [g1Words(bls.pubkeyG1), g2Words(bls.pubkeyG2), g1Words(blsSign(bls.secret, message))]);
  return "registered";
}
