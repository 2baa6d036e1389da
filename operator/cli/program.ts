/**
 * `npm run operator -- <command>`: the operator's command line (commander). With no command (or
 * `run`) it runs the node; the others manage its keys and stake:
 *
 *   keys create --name N        a new staking account, signing key and BLS key, as encrypted keystores
 *   keys import --name N --role account|signer|bls --key-file F
 *   keys list                   names, roles and addresses (never a secret)
 *   status                      registration, stake, signing key, weight, recent verdicts
 *   register [--stake TOKENS]   join the operator set, and bind the BLS key if there is one
 *                               (the node also does both at start)
 *   deregister                  native mode: all active stake to unbonding
 *   withdraw                    native mode: take out unbonded stake after the delay
 *
 * Keys come from the keystores (--name, --keys-dir, --password-file | --password-env), from the
 * node's own configuration (--config operator.json), or from 0600 key files; the chain from
 * --rpc-url/--deployment, the configuration, or OPERATOR_RPC_URL/OPERATOR_DEPLOYMENT. Exit codes:
 * 0 done, 1 refused or failed (the message says why), 2 bad usage or configuration.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { createPublicClient, getAddress, http, isAddress, parseUnits, type Address, type PublicClient } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { FieldError } from "../../protocol/errors.ts";
import { hashG1, type BlsKeyPair } from "../../protocol/bls/index.ts";
import { connectChain, loadBlsKey, loadKey, readDeploymentFile, ChainSetupError } from "../../runtime/chain.ts";
import { nodeCommand } from "../../runtime/cli.ts";
import { defaultDataDir, NODE_DEFAULTS, NodeConfigError, type KeyConfig } from "../../runtime/config.ts";
import { KeyLoadError } from "../../runtime/keys.ts";
import { loadOperatorConfig, OPERATOR_CONFIG_SPEC } from "../config.ts";
import { KeystoreError, KeystoreFolder, type KeyRole } from "./keystores.ts";
import { describeStatus, OperatorRefusal, OperatorStake } from "./stake.ts";

export class OperatorUsageError extends FieldError {
  override name = "OperatorUsageError";
}

type Env = Readonly<Record<string, string | undefined>>;

/** Where the program writes: lines of output, and error text. */
export interface CliIO {
  out: (line: string) => void;
  err: (text: string) => void;
}

const STDIO: CliIO = { out: (line) => console.log(line), err: (text) => void process.stderr.write(text) };

interface KeyOptions {
  keysDir: string;
  passwordFile?: string;
  passwordEnv?: string;
}

interface TargetOptions extends KeyOptions {
  config?: string;
  rpcUrl?: string;
  deployment?: string;
  name?: string;
  accountKeyFile?: string;
  signerKeyFile?: string;
  blsKeyFile?: string;
  account?: string;
  json?: boolean;
}

export const DEFAULT_KEYS_DIR = (env: Env = process.env) => path.join(defaultDataDir("operator", env), "keys");

/** Reads a password from --password-file, --password-env, or (on a terminal) a hidden prompt. */
async function password(o: KeyOptions, env: Env, confirm: boolean): Promise<string> {
  if (o.passwordFile) {
    try {
      return readFileSync(o.passwordFile, "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      throw new OperatorUsageError(`--password-file: cannot read ${o.passwordFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, "password-file");
    }
  }
  if (o.passwordEnv) {
    const value = env[o.passwordEnv];
    if (value === undefined) throw new OperatorUsageError(`--password-env: ${o.passwordEnv} is not set`, "password-env");
    return value;
  }
  if (!process.stdin.isTTY) throw new OperatorUsageError("a keystore password is needed: --password-file FILE or --password-env VAR (or run on a terminal to be asked)", "password");
  const first = await prompt("keystore password: ");
  if (confirm && (await prompt("again: ")) !== first) throw new OperatorUsageError("the passwords differ", "password");
  return first;
}

function prompt(question: string): Promise<string> {
  process.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise((resolve) => rl.question("", (answer) => {
    rl.close();
    process.stderr.write("\n");
    resolve(answer);
  }));
}

/** The address a key config names, without decrypting a keystore (its address is stored in clear). */
async function addressOf(config: KeyConfig | undefined, field: string, env: Env): Promise<Address | undefined> {
  if (!config) return undefined;
  if (config.keystore) {
    try {
      const address = (JSON.parse(readFileSync(config.keystore, "utf8")) as { address?: string }).address;
      if (address && isAddress(`0x${address.replace(/^0x/, "")}`, { strict: false })) return getAddress(`0x${address.replace(/^0x/, "")}`);
    } catch {
      // fall through: loading it says what is wrong
    }
  }
  return (await loadKey(config, field, env)).address;
}

/**
 * The chain and keys a command acts on. Secrets are read only when the command signs something:
 * `status` needs addresses alone, which keystores carry in clear.
 */
async function target(o: TargetOptions, env: Env, need: { account: boolean; signer: boolean; bls?: boolean }) {
  let rpcUrl = o.rpcUrl ?? env.OPERATOR_RPC_URL;
  let deploymentFile = o.deployment ?? env.OPERATOR_DEPLOYMENT;
  let accountConfig: KeyConfig | undefined;
  let signerConfig: KeyConfig | undefined;
  let loadSecret: ((role: "account" | "signer") => Promise<PrivateKeyAccount>) | undefined;
  /** The BLS key, where one is configured (register binds it). */
  let loadBls: (() => Promise<BlsKeyPair>) | undefined;
  if (o.config) {
    // The node's own configuration: its chain and its two keys.
    const config = loadOperatorConfig({ argv: ["--config", o.config, ...(o.rpcUrl ? ["--rpc-url", o.rpcUrl] : []), ...(o.deployment ? ["--deployment", o.deployment] : [])], env });
    rpcUrl = config.chain.rpcUrl;
    deploymentFile = config.chain.deployment;
    accountConfig = config.account;
    signerConfig = config.signer;
    loadSecret = (role) => loadKey(role === "account" ? config.account : config.signer, role, env);
    if (config.blsKey) loadBls = () => loadBlsKey(config.blsKey, "blsKey", env);
  } else if (o.name) {
    const folder = new KeystoreFolder(o.keysDir);
    accountConfig = { keystore: folder.file(o.name, "account") };
    if (existsSync(folder.file(o.name, "signer"))) signerConfig = { keystore: folder.file(o.name, "signer") };
    if (!existsSync(accountConfig.keystore!)) throw new KeystoreError(`no keystore ${accountConfig.keystore} (npm run operator -- keys list)`, "name");
    let secret: Promise<string> | undefined;
    loadSecret = async (role) => folder.load(o.name!, role, await (secret ??= password(o, env, false)));
    if (existsSync(folder.file(o.name, "bls"))) loadBls = async () => folder.loadBlsKey(o.name!, await (secret ??= password(o, env, false)));
  } else if (o.accountKeyFile) {
    accountConfig = { keyFile: o.accountKeyFile };
    if (o.signerKeyFile) signerConfig = { keyFile: o.signerKeyFile };
    loadSecret = (role) => loadKey(role === "account" ? accountConfig : signerConfig, `${role}-key-file`, env);
  }
  if (o.blsKeyFile) loadBls = () => loadBlsKey({ keyFile: o.blsKeyFile }, "bls-key-file", env);
  let address: Address | undefined;
  if (o.account) {
    if (!isAddress(o.account, { strict: false })) throw new OperatorUsageError(`--account must be a 0x address, got ${JSON.stringify(o.account)}`, "account");
    address = getAddress(o.account);
  }
  address ??= await addressOf(accountConfig, "account", env);
  if (!address) throw new OperatorUsageError("which operator? --name NAME (keys create), --config operator.json, --account-key-file FILE, or --account 0x... (status only)", "account");
  if (need.account && !accountConfig) throw new OperatorUsageError("this command sends a transaction: it needs the staking account's key (--name, --config or --account-key-file)", "account");
  if (need.signer && !signerConfig) throw new OperatorUsageError("registering needs the signing key too (--name with both keystores, --config, or --signer-key-file)", "signer");
  const signerAddress = await addressOf(signerConfig, "signer", env);
  const account = need.account ? await loadSecret!("account") : undefined;
  const signer = need.signer ? await loadSecret!("signer") : undefined;
  const bls = need.bls && loadBls ? await loadBls() : undefined;
  rpcUrl ??= NODE_DEFAULTS.chain.rpcUrl;
  deploymentFile ??= NODE_DEFAULTS.chain.deployment;
  const deployment = readDeploymentFile(deploymentFile, "deployment");
  const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 1, timeout: 20_000 }) }) as PublicClient;
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (error) {
    throw new ChainSetupError(`cannot reach ${rpcUrl}: ${(error as Error).message.split("\n")[0]}`, "rpc-url");
  }
  if (chainId !== deployment.chainId) throw new ChainSetupError(`${rpcUrl} is chain ${chainId}, the deployment ${deploymentFile} is for chain ${deployment.chainId}`, "rpc-url");
  const conn = account ? await connectChain(rpcUrl, deployment, account) : undefined;
  return { client, deployment, address, signerAddress, account, signer, bls, conn, stake: new OperatorStake(client, deployment, address) };
}

function tokenAmount(value: string): bigint {
  if (!/^[0-9]+(\.[0-9]{1,18})?$/.test(value)) throw new InvalidArgumentError("must be a token amount, e.g. 100 or 150.5");
  return parseUnits(value, 18);
}

function withTarget(command: Command, env: Env): Command {
  return command
    .option("--config <file>", "the node's configuration (chain and both keys)")
    .option("--rpc-url <url>", "the chain (or OPERATOR_RPC_URL)")
    .option("--deployment <file>", "deployments/<chainId>.json (or OPERATOR_DEPLOYMENT)")
    .option("--name <name>", "keystores made by `keys create` / `keys import`")
    .option("--keys-dir <folder>", "where the keystores are", DEFAULT_KEYS_DIR(env))
    .option("--password-file <file>", "the keystores' password, from a file")
    .option("--password-env <var>", "the keystores' password, from an environment variable")
    .option("--account-key-file <file>", "the staking account as a 0600 key file")
    .option("--signer-key-file <file>", "the signing key as a 0600 key file")
    .option("--bls-key-file <file>", "the BLS key's 32-byte seed as a 0600 key file (register binds it)");
}

/** The program for `argv`; `run` hands the node's own arguments (what follows it) to `runNode`. */
export function operatorProgram(argv: readonly string[], runNode: (argv: string[]) => Promise<void>, env: Env = process.env, io: CliIO = STDIO): Command {
  const out = io.out;
  const output = { writeOut: (t: string) => io.out(t.replace(/\n$/, "")), writeErr: io.err };
  const program = new Command("npm run operator --")
    .description("A verification network operator: runs the node (default), and manages its keys and stake.")
    .configureOutput(output)
    .showHelpAfterError()
    .exitOverride();

  // The node itself; its flags are checked (and documented) from the configuration table.
  const run = nodeCommand({ name: "run", summary: "Run the operator node (the default command: `npm run operator -- --config operator.json`).", spec: OPERATOR_CONFIG_SPEC })
    .exitOverride()
    .configureOutput(output)
    .action(async () => runNode(argv[0] === "run" ? argv.slice(1) : [...argv]));
  program.addCommand(run, { isDefault: true });

  const keys = program.command("keys").description("encrypted keystores of the staking account and the signing key");
  const keyOpts = (c: Command) =>
    c.option("--keys-dir <folder>", "where the keystores are", DEFAULT_KEYS_DIR(env)).option("--password-file <file>", "the password, from a file").option("--password-env <var>", "the password, from an environment variable");
  keyOpts(keys.command("create").description("a new staking account, signing key and BLS key, each as an encrypted keystore").requiredOption("--name <name>", "name of the set (files <name>.account.json, <name>.signer.json, <name>.bls.json)"))
    .option("--json", "machine-readable output")
    .action(async (o: KeyOptions & { name: string; json?: boolean }) => {
      const folder = new KeystoreFolder(o.keysDir);
      const created = await folder.create(o.name, await password(o, env, true));
      if (o.json) return out(JSON.stringify(created));
      out(`created keys "${o.name}" in ${folder.dir}`);
      out(`  staking account  ${created.account.address}  ${path.basename(created.account.file)}  (holds the stake, pays gas: fund it)`);
      out(`  signing key      ${created.signer.address}  ${path.basename(created.signer.file)}  (signs attestations and votes only)`);
      out(`  BLS key          ${created.bls.address}  ${path.basename(created.bls.file)}  (signs attestations for BLS certificates; its key hash is shown)`);
      out("In operator.json:");
      out(`  "account": { "keystore": "${created.account.file}", "passwordFile": "PASSWORD_FILE" },`);
      out(`  "signer":  { "keystore": "${created.signer.file}", "passwordFile": "PASSWORD_FILE" },`);
      out(`  "blsKey":  { "keystore": "${created.bls.file}", "passwordFile": "PASSWORD_FILE" }`);
      out(`or: npm run operator -- status --name ${o.name} --password-file PASSWORD_FILE`);
    });
  keyOpts(
    keys
      .command("import")
      .description("an existing private key (from a 0600 key file) as an encrypted keystore")
      .requiredOption("--name <name>", "name of the pair it belongs to")
      .requiredOption("--role <role>", "account (staking account), signer (signing key) or bls (a BLS key's seed)")
      .requiredOption("--key-file <file>", "a file holding the 32-byte hex private key (read once; the key never appears on the command line)"),
  ).action(async (o: KeyOptions & { name: string; role: KeyRole; keyFile: string }) => {
    let key: string;
    try {
      key = readFileSync(o.keyFile, "utf8");
    } catch (error) {
      throw new OperatorUsageError(`--key-file: cannot read ${o.keyFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, "key-file");
    }
    const entry = await new KeystoreFolder(o.keysDir).import(o.name, o.role, key, await password(o, env, true));
    out(`imported ${entry.role} ${entry.address} as ${entry.file}`);
  });
  keys
    .command("list")
    .description("the keystores in the folder: name, role, address (no password needed)")
    .option("--keys-dir <folder>", "where the keystores are", DEFAULT_KEYS_DIR(env))
    .option("--json", "machine-readable output")
    .action((o: { keysDir: string; json?: boolean }) => {
      const entries = new KeystoreFolder(o.keysDir).list();
      if (o.json) return out(JSON.stringify(entries));
      if (entries.length === 0) return out(`no keystores in ${o.keysDir} (npm run operator -- keys create --name NAME)`);
      out(`${"name".padEnd(20)} ${"role".padEnd(8)} address (BLS: key hash)`);
      for (const e of entries) out(`${e.name.padEnd(20)} ${e.role.padEnd(8)} ${e.address}  ${e.file}`);
    });

  withTarget(program.command("status").description("registration, stake, signing key, weight and recent verdicts"), env)
    .option("--account <address>", "any operator's account (read-only, no key needed)")
    .option("--json", "machine-readable output")
    .action(async (o: TargetOptions) => {
      const t = await target(o, env, { account: false, signer: false });
      const status = await t.stake.status(t.signerAddress);
      if (o.json) return out(JSON.stringify(status));
      for (const line of describeStatus(status)) out(line);
    });
  withTarget(program.command("register").description("join the operator set with a stake (the node does this at start when it is not registered)"), env)
    .option("--stake <tokens>", "stake to lock, in tokens (default: the minimum operator stake)", tokenAmount)
    .action(async (o: TargetOptions & { stake?: bigint }) => {
      const t = await target(o, env, { account: true, signer: true, bls: true });
      const stake = o.stake ?? BigInt(t.deployment.config.minOperatorStake);
      const outcome = await t.stake.register(t.conn!, t.signer!, stake);
      out(outcome === "already-registered" ? `${t.address} is already registered with signing key ${t.signer!.address}` : `registered ${t.address} with signing key ${t.signer!.address}`);
      if (t.bls) {
        const bound = await t.stake.bindBlsKey(t.conn!, t.bls);
        out(`${bound === "registered" ? "bound" : "already bound:"} BLS key ${hashG1(t.bls.pubkeyG1)} (proof of possession checked on chain)`);
      }
    });
  withTarget(program.command("deregister").description("native mode: move all active stake to unbonding (no more weight; slashable until withdrawn)"), env).action(async (o: TargetOptions) => {
    const t = await target(o, env, { account: true, signer: false });
    const { tx, amount, releaseAt } = await t.stake.deregister(t.conn!);
    out(`deregistered: ${Number(amount / 10n ** 14n) / 10_000} tokens unbonding, withdrawable from ${new Date(Number(releaseAt) * 1000).toISOString()} (npm run operator -- withdraw); tx ${tx}`);
  });
  withTarget(program.command("withdraw").description("native mode: take out unbonded stake once the unbonding delay has passed"), env).action(async (o: TargetOptions) => {
    const t = await target(o, env, { account: true, signer: false });
    const { tx, amount } = await t.stake.withdraw(t.conn!);
    out(`withdrew ${Number(amount / 10n ** 14n) / 10_000} tokens to ${t.address}; tx ${tx}`);
  });
  return program;
}

/** Runs the program on `argv` (without node and script); returns the exit code. */
export async function runOperatorCli(argv: string[], runNode: (argv: string[]) => Promise<void>, env: Env = process.env, io: CliIO = STDIO): Promise<number> {
  const program = operatorProgram(argv, runNode, env, io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2; // help, or a usage error commander printed
    if (error instanceof OperatorUsageError || error instanceof NodeConfigError || error instanceof ChainSetupError) {
      io.err(`operator: ${error.message}\n`);
      return 2;
    }
    if (error instanceof OperatorRefusal || error instanceof KeystoreError || error instanceof KeyLoadError) {
      io.err(`operator: refused: ${error.message}\n`);
      return 1;
    }
    io.err(`operator: failed: ${(error as Error).message}\n`);
    return 1;
  }
}
