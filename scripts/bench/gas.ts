/**
 * Gas report for the contracts (npm run bench:gas), measured on Hardhat's in-process network:
 * submitBatch, attest with 1 / 4 / 16 / 64 signers, openDispute over a 2^20-leaf tree (a
 * 20-element proof), castVotes, resolveDispute, and BLS quorum certificates (attestBLS) at 10, 100,
 * 200 and 1,000 registered operators beside ECDSA attest. Prints each figure with its target and met/MISSED.
 * Gas is deterministic, so unlike timings these figures do not depend on the machine.
 */
import { parseArgs } from "node:util";
import { network } from "hardhat";
import { keccak256, toHex, type Hex } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { Role, Verdict, signAttestation } from "../../protocol/eip712/index.ts";
import { BatchMerkleTree, hashLeafFields } from "../../protocol/merkle/index.ts";
import { deploySystem, randomLeaves, testAccount, type Member, type System } from "../../test/helpers/contracts.ts";
import { printTable, recordSection } from "./harness.ts";
import { blsCertificate, blsKeyPairFromSeed, blsSign, g1Words, g2Words, type BlsKeyPair } from "../../protocol/bls/index.ts";

const { values: args } = parseArgs({ options: { record: { type: "boolean", default: false } } });

const SUBMIT_TARGET = 100_000n;
const PER_SIGNER_TARGET = 8_000n;
const OPEN_DISPUTE_TARGET = 200_000n;
const BLS_ATTEST_TARGET = 350_000n; // at 200 registered operators
const BLS_PER_OPERATOR_TARGET = 10n; // growth of an all-signing certificate per registered operator
const BLS_SIZES = [10, 100, 200, 1000];
const DISPUTE_TREE_LEAVES = 2 ** 20;

const connection = await network.create();

const BENCH_MODEL = "meta-llama/Llama-3.1-8B-Instruct";

async function gasOf(sys: System, hash: Hex): Promise<bigint> {
  const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
  return receipt.gasUsed;
}

async function systemWith(operatorCount: number, label: string, mode: "native" | "eigenlayer" = "native") {
  const sys = await deploySystem(connection, mode, `gas-${label}-`);
  const prover = await sys.addMember(Role.Prover);
  // The model a real batch names, bound to its verification profile (BatchManager refuses others).
  await sys.publicClient.waitForTransactionReceipt({ hash: await sys.modelRegistry.write.setModelProfile([BENCH_MODEL, keccak256(toHex("profile")), keccak256(toHex("weights")), ""]) });
  const operators: Member[] = [];
  for (let i = 0; i < operatorCount; i++) operators.push(await sys.addMember(Role.Operator));
  return { sys, prover, operators };
}

async function submit(sys: System, prover: Member, root: Hex, leafCount: bigint): Promise<{ batchId: bigint; gas: bigint }> {
  const hash = await sys.sendAs(prover.account, sys.batchManager.address, batchManagerAbi, "submitBatch", [
    keccak256(toHex(BENCH_MODEL)), keccak256(toHex("envelope")), root, leafCount, "https://prover.example/batches/0001",
  ]);
  return { batchId: await sys.batchManager.read.batchCount(), gas: await gasOf(sys, hash) };
}

const rows: string[][] = [["operation", "gas", "target", "status"]];
let blsTable: string[][] = [];
let blsBatches = 0;
const status = (ok: boolean) => (ok ? "met" : "MISSED");

// --- submitBatch: the same storage whatever the leaf count (up to MAX_LEAF_COUNT, 2^25).
const four = await systemWith(4, "four");
for (const leafCount of [1n, 1024n, BigInt(DISPUTE_TREE_LEAVES), 2n ** 25n]) {
  const { gas } = await submit(four.sys, four.prover, keccak256(toHex(`root ${leafCount}`)), leafCount);
  rows.push([`submitBatch (${leafCount.toLocaleString("en-US")} leaf${leafCount === 1n ? "" : "s"})`, gas.toString(), `<= ${SUBMIT_TARGET}`, status(gas <= SUBMIT_TARGET)]);
}

// --- attest with N signers: a system of exactly N equal operators, all signing.
const attestGas = new Map<number, bigint>();
for (const n of [1, 4, 16, 64]) {
  const { sys, prover, operators } = n === 4 ? four : await systemWith(n, `attest${n}`);
  const root = keccak256(toHex(`attest root ${n}`));
  const { batchId } = await submit(sys, prover, root, 8n);
  const signed = await sys.attestationSignatures(batchId, root, operators);
  const gas = await gasOf(sys, await sys.batchManager.write.attest([batchId, root, Verdict.Valid, 4, signed.map((s) => s.signature)]));
  attestGas.set(n, gas);
}
const perSigner = (attestGas.get(64)! - attestGas.get(1)!) / 63n;
for (const [n, gas] of attestGas) rows.push([`attest (${n} signer${n === 1 ? "" : "s"})`, gas.toString(), "", ""]);
rows.push(["attest, growth per signer (1 -> 64)", perSigner.toString(), `<= ${PER_SIGNER_TARGET}`, status(perSigner <= PER_SIGNER_TARGET)]);
const perSigner4to16 = (attestGas.get(16)! - attestGas.get(4)!) / 12n;
rows.push(["attest, growth per signer (4 -> 16)", perSigner4to16.toString(), `<= ${PER_SIGNER_TARGET}`, status(perSigner4to16 <= PER_SIGNER_TARGET)]);
{
  // EigenLayer mode shares the weight lookup (checkpoints kept by the service manager).
  const el = await systemWith(16, "el16", "eigenlayer");
  const root = keccak256(toHex("attest root el"));
  const { batchId } = await submit(el.sys, el.prover, root, 8n);
  const signed = await el.sys.attestationSignatures(batchId, root, el.operators);
  const gas = await gasOf(el.sys, await el.sys.batchManager.write.attest([batchId, root, Verdict.Valid, 4, signed.map((s) => s.signature)]));
  rows.push(["attest (16 signers, EigenLayer mode)", gas.toString(), "", ""]);
}

// --- openDispute over a 2^20-leaf batch: one real leaf, the others filler hashes.
const { sys, prover, operators } = four;
const disputed = randomLeaves(1, 2026)[0]!;
const disputedIndex = 777_777;
const filler = new Uint8Array(DISPUTE_TREE_LEAVES * 32);
let x = 0x9e3779b9;
for (let i = 0; i < filler.length; i += 4) {
  x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
  filler[i] = x & 255; filler[i + 1] = (x >>> 8) & 255; filler[i + 2] = (x >>> 16) & 255; filler[i + 3] = x >>> 24;
}
const leafHashes: (Uint8Array | Hex)[] = Array.from({ length: DISPUTE_TREE_LEAVES }, (_, i) => filler.subarray(i * 32, i * 32 + 32));
leafHashes[disputedIndex] = hashLeafFields(disputed);
const tree = BatchMerkleTree.fromLeafHashes(leafHashes);
const proof = tree.proof(disputedIndex);
const big = await submit(sys, prover, tree.root, BigInt(DISPUTE_TREE_LEAVES));
const attestedSigned = await sys.attestationSignatures(big.batchId, tree.root, operators);
await gasOf(sys, await sys.batchManager.write.attest([big.batchId, tree.root, Verdict.Valid, 4, attestedSigned.map((s) => s.signature)]));
const challenger = testAccount("gas-challenger");
await sys.fundBond(challenger);
const openGas = await gasOf(sys, await sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [big.batchId, disputed, proof, keccak256(toHex("evidence"))]));
rows.push([`openDispute (2^20 leaves, ${proof.length}-node proof)`, openGas.toString(), `<= ${OPEN_DISPUTE_TARGET}`, status(openGas <= OPEN_DISPUTE_TARGET)]);

// --- votes and resolution (upheld: prover + 4 attesters slashed).
const disputeId = await sys.batchManager.read.disputeCount();
const leafHash = hashLeafFields(disputed);
const oneVote = await sys.votes(disputeId, big.batchId, leafHash, [{ member: operators[0]!, fraud: true }]);
const voteGas1 = await gasOf(sys, await sys.batchManager.write.castVotes([disputeId, oneVote]));
rows.push(["castVotes (1 vote)", voteGas1.toString(), "", ""]);
const threeVotes = await sys.votes(disputeId, big.batchId, leafHash, operators.slice(1).map((member) => ({ member, fraud: true })));
const voteGas3 = await gasOf(sys, await sys.batchManager.write.castVotes([disputeId, threeVotes]));
rows.push(["castVotes (3 votes)", voteGas3.toString(), "", ""]);
const attesters = attestedSigned.map((s) => s.signer);
const resolveGas = await gasOf(sys, await sys.batchManager.write.resolveDispute([disputeId, attesters]));
rows.push(["resolveDispute (upheld, prover + 4 attesters slashed)", resolveGas.toString(), "", ""]);

// Rejected by vote: bond to the treasury, batch Cleared.
const prover2 = await sys.addMember(Role.Prover);
const small = await sys.submitBatch(prover2, randomLeaves(4, 7));
await sys.attest(small.batchId, small.tree.root, operators);
await sys.sendAs(challenger, sys.token.address, (await import("../../protocol/contracts/abis.ts")).devStakeTokenAbi, "approve", [sys.batchManager.address, 0n]);
await sys.fundBond(challenger);
await sys.sendAs(challenger, sys.batchManager.address, batchManagerAbi, "openDispute", [small.batchId, small.leaves[1]!, small.tree.proof(1), keccak256(toHex("evidence 2"))]);
const dispute2 = await sys.batchManager.read.disputeCount();
await sys.batchManager.write.castVotes([dispute2, await sys.votes(dispute2, small.batchId, hashLeafFields(small.leaves[1]!), operators.map((member) => ({ member, fraud: false })))]);
const rejectGas = await gasOf(sys, await sys.batchManager.write.resolveDispute([dispute2, []]));
rows.push(["resolveDispute (rejected, bond forfeited)", rejectGas.toString(), "", ""]);

// Equivocation: one operator signed two attestations with different leaf counts for one batch.
{
  const cheat = operators[0]!;
  const eq = await sys.submitBatch(prover2, randomLeaves(4, 8));
  const sign = (leavesChecked: number) => signAttestation(cheat.signingKey, sys.batchDomain, { batchId: eq.batchId, root: eq.tree.root, verdict: Verdict.Valid, leavesChecked });
  const [a, b] = [await sign(4), await sign(3)];
  const body = (leavesChecked: number) => ({ root: eq.tree.root, verdict: Verdict.Valid, leavesChecked });
  const equivocationGas = await gasOf(sys, await sys.batchManager.write.slashAttestationEquivocation([eq.batchId, body(4), a.signature, body(3), b.signature]));
  rows.push(["slashAttestationEquivocation (1 operator slashed)", equivocationGas.toString(), "", ""]);
}

// --- BLS certificates: N operators with BLS keys; all sign, then 1 and N/10 non-signers.
{
  const blsRows: string[][] = [["attest at N registered operators", "ECDSA attest (all sign)", "BLS attestBLS (all sign)", "BLS, 1 non-signer", "BLS, N/10 non-signers", "ECDSA / BLS", "target", "status"]];
  const allSigning = new Map<number, bigint>();
  const perNonSigner: bigint[] = [];
  for (const n of BLS_SIZES) {
    process.stderr.write(`bench:gas: ${n} operators with BLS keys...\n`);
    const { sys: s2, prover: p2, operators: ops } = await systemWith(n, `bls${n}`);
    const keys: BlsKeyPair[] = [];
    for (let i = 0; i < n; i++) {
      const bls = blsKeyPairFromSeed(keccak256(toHex(`bench bls ${n} ${i}`)));
      const message = (await s2.registry.read.blsRegistrationMessage([ops[i]!.account.address])) as Hex;
      await s2.sendAs(ops[i]!.account, s2.registry.address, s2.registry.abi, "registerBLSKey", [g1Words(bls.pubkeyG1), g2Words(bls.pubkeyG2), g1Words(blsSign(bls.secret, message))]);
      keys.push(bls);
    }
    const apkIndex = Number(await s2.registry.read.apkHistoryLength()) - 1;
    const blsAttest = async (nonSignerCount: number) => {
      const root = keccak256(toHex(`bls root ${n} ${nonSignerCount} ${++blsBatches}`));
      const { batchId } = await submit(s2, p2, root, 8n);
      const digest = (await s2.batchManager.read.attestationDigest([batchId, root, Verdict.Valid, 4])) as Hex;
      const signers = keys.slice(nonSignerCount);
      const cert = blsCertificate(apkIndex, signers.map((k) => ({ pubkeyG2: k.pubkeyG2, signature: blsSign(k.secret, digest) })), keys.slice(0, nonSignerCount).map((k) => k.pubkeyG1));
      return gasOf(s2, await s2.batchManager.write.attestBLS([batchId, root, Verdict.Valid, 4, cert]));
    };
    const root = keccak256(toHex(`ecdsa root ${n}`));
    const { batchId } = await submit(s2, p2, root, 8n);
    const signed = await s2.attestationSignatures(batchId, root, ops);
    const ecdsa = await gasOf(s2, await s2.batchManager.write.attest([batchId, root, Verdict.Valid, 4, signed.map((x) => x.signature)]));
    // Mean of three batches: hashing each digest to G1 takes one to a few tries (a modexp each).
    const all = ((await blsAttest(0)) + (await blsAttest(0)) + (await blsAttest(0))) / 3n;
    const one = await blsAttest(1);
    const tenth = await blsAttest(Math.max(1, n / 10));
    allSigning.set(n, all);
    if (n >= 100) perNonSigner.push((tenth - all) / BigInt(n / 10));
    const targetCell = n === 200 ? `<= ${BLS_ATTEST_TARGET}` : "";
    const statusCell = n === 200 ? status(all <= BLS_ATTEST_TARGET) : "";
    blsRows.push([String(n), ecdsa.toString(), all.toString(), one.toString(), tenth.toString(), (Number(ecdsa) / Number(all)).toFixed(1), targetCell, statusCell]);
  }
  const growth = (allSigning.get(1000)! - allSigning.get(10)!) / 990n;
  rows.push(["attestBLS (200 operators, all sign)", allSigning.get(200)!.toString(), `<= ${BLS_ATTEST_TARGET}`, status(allSigning.get(200)! <= BLS_ATTEST_TARGET)]);
  rows.push(["attestBLS, growth per registered operator (10 -> 1,000, all sign)", growth.toString(), `<= ${BLS_PER_OPERATOR_TARGET}`, status(growth <= BLS_PER_OPERATOR_TARGET)]);
  rows.push(["attestBLS, cost per non-signer (N/10 non-signers, mean over N >= 100)", (perNonSigner.reduce((a, b) => a + b, 0n) / BigInt(perNonSigner.length)).toString(), "", ""]);
  blsTable = blsRows;
}

console.log("Gas report (Hardhat EDR, solc 0.8.30, optimizer 200 runs, native staking mode)\n");
const table = printTable(rows);
console.log("\nQuorum certificates side by side (gas; BLS: one pairing whatever the signer count)\n");
const blsText = printTable(blsTable);
if (args.record) {
  recordSection("gas", ["## Contract gas (`npm run bench:gas`)", "", "```", table, "```", "", "Quorum certificates, ECDSA and BLS side by side:", "", "```", blsText, "```"].join("\n"));
}
