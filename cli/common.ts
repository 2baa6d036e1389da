/**
 * What the vb commands share: exit codes, the usage error, commander set up so that --help goes
 * to stdout and parse errors come back as UsageError (with only flags that exist, as commander
 * names them), number parsing that names the flag, and the signing and trust options.
 */
import { existsSync, readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import type { Hex } from "viem";
import { parsePublicKey, publicKeyToPem, readKeyFile } from "../protocol/envelope/ed25519.ts";
import { loadPinnedTrustedRoot } from "../protocol/envelope/sigstore.ts";
import type { SigningKeys, TrustAnchors } from "../protocol/envelope/verify.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNVERIFIED = 3;

export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    /** The command whose --help lists the right options. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** Thrown by parse() when --help was printed: the command's exit code is 0. */
export class HelpShown extends Error {
  override name = "HelpShown";
}

/** A command with the shared commander settings. */
export function command(name: string, description: string): Command {
  return new Command(`vb ${name}`)
    .description(description)
    .exitOverride()
    .allowExcessArguments(false)
    .helpOption("-h, --help", "show this command's options")
    .configureOutput({ writeOut: (s) => console.log(s.trimEnd()), writeErr: () => undefined, outputError: () => undefined })
    .showHelpAfterError(false);
}

/** Parses `args` with `cmd`; returns its options and arguments. Throws UsageError or HelpShown. */
export function parse(cmd: Command, args: string[]): { opts: Record<string, unknown>; args: string[] } {
  try {
    cmd.parse(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help") throw new HelpShown();
      throw new UsageError(e.message.replace(/^error: /, ""), cmd.name());
    }
    throw e;
  }
  return { opts: cmd.opts(), args: cmd.args };
}

export function num(v: unknown, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(x)) throw new UsageError(`${flag} must be a number, got "${String(v)}"`);
  return x;
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function addSigningOptions(cmd: Command): Command {
  return cmd
    .option("--key <file>", "sign with this ed25519 key file (make one with `vb keygen --out FILE`)")
    .option("--eth-key-file <file>", "also sign with the Ethereum key in this file (0x + 64 hex; or VB_ETH_PRIVATE_KEY)")
    .option("--sigstore", "also sign keylessly with Sigstore (SIGSTORE_ID_TOKEN)");
}

export function signingKeys(v: Record<string, unknown>, required: boolean): SigningKeys {
  const keys: SigningKeys = {};
  if (typeof v.key === "string") keys.ed25519 = readKeyFile(v.key);
  if (typeof v.ethKeyFile === "string") {
    const text = readFileSync(v.ethKeyFile, "utf8").trim();
    if (!/^0x[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`--eth-key-file must hold 0x + 64 hex characters`);
    keys.ethereumPrivateKey = text as Hex;
  } else if (process.env.VB_ETH_PRIVATE_KEY) {
    keys.ethereumPrivateKey = process.env.VB_ETH_PRIVATE_KEY as Hex;
  }
  if (v.sigstore === true) keys.sigstore = true;
  if (required && !keys.ed25519 && !keys.ethereumPrivateKey && !keys.sigstore) {
    throw new UsageError("a signing key is required: --key FILE (make one with `vb keygen --out FILE`), --eth-key-file FILE or --sigstore");
  }
  return keys;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addTrustOptions(cmd: Command): Command {
  return cmd
    .option("--trust-key <key>", "trust this ed25519 key: a PEM file, a vb key file or 64 hex characters (repeatable)", collect)
    .option("--trust-address <0x..>", "trust this Ethereum address (repeatable)", collect)
    .option("--sigstore-identity <id>", "trust Sigstore bundles for this identity (with --sigstore-issuer)")
    .option("--sigstore-issuer <url>", "the OIDC issuer of --sigstore-identity")
    .option("--trusted-root <file>", "a Sigstore trusted_root.json instead of the pinned public-good one");
}

/** --trust-key accepts a PEM file, a vb key file, or 64 hex characters. */
function trustedKeyText(arg: string): string {
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(arg)) return arg;
  if (!existsSync(arg)) throw new UsageError(`--trust-key ${arg}: no such file (and not 64 hex characters)`);
  const text = readFileSync(arg, "utf8");
  if (text.includes("BEGIN PUBLIC KEY")) return text;
  return publicKeyToPem(readKeyFile(arg).publicKey);
}

export function trustAnchors(v: Record<string, unknown>): TrustAnchors {
  const trust: TrustAnchors = {};
  const keys = (v.trustKey as string[] | undefined) ?? [];
  if (keys.length) trust.ed25519 = keys.map(trustedKeyText);
  for (const k of trust.ed25519 ?? []) parsePublicKey(k);
  const addresses = (v.trustAddress as string[] | undefined) ?? [];
  if (addresses.length) trust.addresses = addresses;
  if (v.sigstoreIdentity || v.sigstoreIssuer) {
    if (!v.sigstoreIdentity || !v.sigstoreIssuer) throw new UsageError("--sigstore-identity and --sigstore-issuer go together");
    trust.sigstore = {
      identity: String(v.sigstoreIdentity),
      issuer: String(v.sigstoreIssuer),
      trustedRoot: v.trustedRoot ? JSON.parse(readFileSync(String(v.trustedRoot), "utf8")) : loadPinnedTrustedRoot(),
    };
  }
  return trust;
}

/** Fails when the URL is not http(s). */
export function httpUrl(v: unknown, flag: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^https?:\/\/\S+$/.test(v)) throw new UsageError(`${flag} must be an http(s) URL, got "${String(v)}"`);
  return v;
}
