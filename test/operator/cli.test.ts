/**
 * `npm run operator -- keys|status|register|deregister|withdraw` against a real Hardhat node
 * with the contracts deployed: encrypted keystores (real ethers scrypt keystores), a
 * registration, deregistration and withdrawal after the unbonding delay (evm_increaseTime), and
 * a clear refusal for each thing that cannot be done. Most cases run the CLI in this process
 * (runOperatorCli, the same entry the process uses); a few run it as a process.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { decryptKeystoreJson } from "ethers";
import { parseEther, type Hex } from "viem";
import { blsKeyPairFromSeed, hashG1 } from "../../protocol/bls/index.ts";
import { devStakeTokenAbi } from "../../protocol/contracts/abis.ts";
import { runOperatorCli } from "../../operator/cli/program.ts";
import { setupNetwork, startHardhatNode, type NetworkSetup, type NodeProcess } from "../../scripts/network/launch.ts";
import { ROOT } from "../helpers/cli.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** In this process. */
async function operator(args: string[]): Promise<Run> {
  const out: string[] = [];
  let stderr = "";
  const code = await runOperatorCli(args, async () => assert.fail("the node is not run by these tests"), process.env, { out: (l) => out.push(l), err: (t) => (stderr += t) });
  return { code, stdout: out.length ? `${out.join("\n")}\n` : "", stderr };
}

/** As `npm run operator --` runs it. */
function operatorProcess(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "operator/main.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe("operator CLI: keys and stake (real chain, real keystores)", function () {
  this.timeout(180_000);
  let dir: string;
  let keysDir: string;
  let passwordFile: string;
  let chain: { rpcUrl: string; node: NodeProcess };
  let setup: NetworkSetup;
  let on: string[];
  const keys = () => ["--keys-dir", keysDir, "--password-file", passwordFile];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "vb-operator-cli-"));
    keysDir = path.join(dir, "keys");
    passwordFile = path.join(dir, "password");
    writeFileSync(passwordFile, "correct horse battery\n", { mode: 0o600 });
    chain = await startHardhatNode(dir);
    setup = await setupNetwork(chain.rpcUrl, dir, { operators: 1, provers: 0 });
    on = ["--rpc-url", chain.rpcUrl, "--deployment", setup.deploymentFile];
  });
  after(async () => {
    await chain?.node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates, imports and lists encrypted keystores, never showing a secret", async () => {
    const created = await operator(["keys", "create", "--name", "alice", ...keys(), "--json"]);
    assert.equal(created.code, 0, created.stderr);
    const pair = JSON.parse(created.stdout) as { account: { address: string; file: string }; signer: { address: string; file: string }; bls: { address: string; file: string } };
    // The BLS keystore carries the key's hash in clear (what the registry binds), not an address.
    assert.equal(statSync(pair.bls.file).mode & 0o777, 0o600);
    const seed = (await decryptKeystoreJson(readFileSync(pair.bls.file, "utf8"), "correct horse battery")).privateKey as Hex;
    assert.equal(pair.bls.address, hashG1(blsKeyPairFromSeed(seed).pubkeyG1));
    assert.equal(statSync(keysDir).mode & 0o777, 0o700);
    for (const k of [pair.account, pair.signer]) {
      assert.equal(statSync(k.file).mode & 0o777, 0o600);
      const wallet = await decryptKeystoreJson(readFileSync(k.file, "utf8"), "correct horse battery");
      assert.equal(wallet.address, k.address, "an ethers keystore of that address");
    }
    assert.notEqual(pair.account.address, pair.signer.address);
    const again = await operator(["keys", "create", "--name", "alice", ...keys()]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /keys "alice" exist already/);
    const short = path.join(dir, "short");
    writeFileSync(short, "abc");
    assert.match((await operator(["keys", "create", "--name", "carol", "--keys-dir", keysDir, "--password-file", short])).stderr, /at least 8 characters/);
    const noPassword = await operator(["keys", "create", "--name", "carol", "--keys-dir", keysDir]);
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.stderr, /a keystore password is needed: --password-file FILE or --password-env VAR/);
    assert.match((await operator(["keys", "create", "--name", "Bad Name", ...keys()])).stderr, /--name must be 1-64 lowercase letters/);

    // The funded operator's existing keys, imported under "bob" (from its 0600 key files).
    const op = setup.operators[0]!;
    for (const [role, file] of [["account", op.accountKeyFile], ["signer", op.signerKeyFile], ["bls", op.blsKeyFile!]] as const) {
      const r = await operator(["keys", "import", "--name", "bob", "--role", role, "--key-file", file, ...keys()]);
      assert.equal(r.code, 0, r.stderr);
    }
    const twice = await operator(["keys", "import", "--name", "dave", "--role", "account", "--key-file", op.accountKeyFile, ...keys()]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /already in this folder as bob\.account/);
    assert.match((await operator(["keys", "import", "--name", "dave", "--role", "boss", "--key-file", op.accountKeyFile, ...keys()])).stderr, /--role must be account, signer or bls/);

    const list = await operator(["keys", "list", "--keys-dir", keysDir]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, new RegExp(`bob +account +${op.account.address}`));
    assert.match(list.stdout, new RegExp(`bob +signer +${op.signer.address}`));
    assert.match(list.stdout, new RegExp(`alice +account +${pair.account.address}`));
    assert.match(list.stdout, new RegExp(`bob +bls +${hashG1(blsKeyPairFromSeed(readFileSync(op.blsKeyFile!, "utf8").trim() as Hex).pubkeyG1)}`));
    for (const file of [op.accountKeyFile, op.signerKeyFile, op.blsKeyFile!]) {
      const secret = readFileSync(file, "utf8").trim().replace(/^0x/, "");
      assert.ok(!list.stdout.includes(secret) && !created.stdout.includes(secret), "no private key printed");
    }
    const json = JSON.parse((await operator(["keys", "list", "--keys-dir", keysDir, "--json"])).stdout) as { name: string }[];
    assert.deepEqual(json.map((e) => e.name), ["alice", "alice", "alice", "bob", "bob", "bob"]);
  });

  it("refuses what cannot be done, each with its reason", async () => {
    const bob = ["--name", "bob", ...keys(), ...on];
    const notRegistered = await operatorProcess(["deregister", ...bob]);
    assert.equal(notRegistered.code, 1);
    assert.match(notRegistered.stderr, /refused: not registered: 0x[0-9a-fA-F]{40} is not a member of the registry/);
    const op = setup.operators[0]!;
    const bobFiles = ["--account-key-file", op.accountKeyFile, "--signer-key-file", op.signerKeyFile, ...on];
    assert.match((await operator(["withdraw", ...bobFiles])).stderr, /refused: not registered/);
    const tooLittle = await operator(["register", ...bobFiles, "--stake", "50"]);
    assert.equal(tooLittle.code, 1);
    assert.match(tooLittle.stderr, /insufficient stake: 50 tokens is below the minimum operator stake of 100 tokens/);
    const noTokens = await operator(["register", "--name", "alice", ...keys(), ...on]);
    assert.equal(noTokens.code, 1);
    assert.match(noTokens.stderr, /insufficient stake tokens: 0x[0-9a-fA-F]{40} holds 0 tokens/);
    const wrong = path.join(dir, "wrong");
    writeFileSync(wrong, "not the password");
    const badPassword = await operator(["deregister", "--name", "bob", "--keys-dir", keysDir, "--password-file", wrong, ...on]);
    assert.equal(badPassword.code, 1);
    assert.match(badPassword.stderr, /cannot decrypt .*wrong password/);
    assert.equal((await operator(["status", ...on])).code, 2, "no operator named");
    assert.equal((await operator(["register", "--account", setup.operators[0]!.account.address, ...on])).code, 2, "a transaction needs the key");
    assert.equal((await operator(["status", "--name", "bob", ...keys(), "--rpc-url", chain.rpcUrl, "--deployment", path.join(dir, "missing.json")])).code, 2);
    assert.equal((await operator(["status", "--stake", "1", ...bob])).code, 2, "unknown option");
    assert.equal((await operator(["register", ...bobFiles, "--stake", "lots"])).code, 2, "not an amount");
  });

  it("registers, shows status, deregisters and withdraws once the unbonding delay is over", async () => {
    const op = setup.operators[0]!;
    // Keystores for registering (as a process); the same keys as 0600 key files for the rest,
    // which spares a scrypt decryption per command.
    const bob = ["--account-key-file", op.accountKeyFile, "--signer-key-file", op.signerKeyFile, ...on];
    const bobKeystores = ["--name", "bob", ...keys(), ...on];
    const before = await operator(["status", ...bobKeystores]);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /registered {3}no/);
    const registered = await operatorProcess(["register", ...bobKeystores]);
    assert.equal(registered.code, 0, registered.stderr);
    assert.match(registered.stdout, new RegExp(`registered ${op.account.address} with signing key ${op.signer.address}`));
    // bob's keystores include a BLS key: register bound it with its proof of possession.
    const blsKeyHash = hashG1(blsKeyPairFromSeed(readFileSync(op.blsKeyFile!, "utf8").trim() as Hex).pubkeyG1);
    assert.match(registered.stdout, new RegExp(`bound BLS key ${blsKeyHash}`));
    assert.match((await operator(["register", ...bob])).stdout, /already registered/);
    const status = JSON.parse((await operator(["status", ...bobKeystores, "--json"])).stdout) as { role: string; signingKey: string; signerMatches: boolean; stake: { active: string; unbonding: string }; weight: string };
    assert.equal(status.role, "operator");
    assert.equal(status.signingKey, op.signer.address);
    assert.equal(status.signerMatches, true);
    assert.equal((status as unknown as { blsKeyHash: string }).blsKeyHash, blsKeyHash);
    assert.equal(status.stake.active, parseEther("100").toString());
    assert.equal(status.weight, parseEther("100").toString());
    // Read-only, by address: no key needed.
    const byAddress = await operator(["status", "--account", op.account.address, ...on]);
    assert.match(byAddress.stdout, /stake {8}100 tokens active; nothing unbonding/);
    assert.match(byAddress.stdout, new RegExp(`BLS key {6}${blsKeyHash}`));
    assert.match(byAddress.stdout, /recent verdicts {2}none/);

    assert.match((await operator(["withdraw", ...bob])).stderr, /nothing to withdraw: all stake is active \(npm run operator -- deregister first\)/);
    const deregistered = await operator(["deregister", ...bob]);
    assert.equal(deregistered.code, 0, deregistered.stderr);
    assert.match(deregistered.stdout, /^deregistered: 100 tokens unbonding, withdrawable from \d{4}-/);
    assert.match((await operator(["deregister", ...bob])).stderr, /already deregistered: 100 tokens unbonding, withdrawable from/);
    const early = await operator(["withdraw", ...bob]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /still unbonding: 100 tokens withdrawable from \S+ \(in \d+ s of chain time\)/);
    const unbonded = JSON.parse((await operator(["status", ...bob, "--json"])).stdout) as { weight: string; stake: { unbonding: string } };
    assert.equal(unbonded.weight, "0", "no more voting weight");
    assert.equal(unbonded.stake.unbonding, parseEther("100").toString());

    await setup.publicClient.request({ method: "evm_increaseTime" as never, params: [setup.deployment.config.unbondingDelay + 1] as never });
    await setup.publicClient.request({ method: "evm_mine" as never, params: [] as never });
    const balance = () => setup.publicClient.readContract({ address: setup.deployment.contracts.stakeToken.address, abi: devStakeTokenAbi, functionName: "balanceOf", args: [op.account.address] });
    const tokensBefore = await balance();
    const withdrawn = await operator(["withdraw", ...bob]);
    assert.equal(withdrawn.code, 0, withdrawn.stderr);
    assert.match(withdrawn.stdout, /^withdrew 100 tokens to 0x/);
    assert.equal(await balance(), tokensBefore + parseEther("100"));
    assert.match((await operator(["withdraw", ...bob])).stderr, /refused: nothing to withdraw/);
  });

  it("also acts through the node's own configuration file", async () => {
    const op = setup.operators[0]!;
    const config = path.join(dir, "operator.json");
    writeFileSync(config, JSON.stringify({ chain: { rpcUrl: chain.rpcUrl, deployment: setup.deploymentFile }, account: { keyFile: op.accountKeyFile }, signer: { keyFile: op.signerKeyFile } }));
    const status = await operator(["status", "--config", config]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`signing key ${op.signer.address} \\(the configured signer\\)`));
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ chain: { rpcUrl: "not a url" }, account: { keyFile: op.accountKeyFile }, signer: { keyFile: op.signerKeyFile } }));
    const refused = await operator(["status", "--config", bad]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /chain\.rpcUrl/);
  });
});
