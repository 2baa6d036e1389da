/** `vb sign ENVELOPE`: add signatures to a signed envelope (a prover co-signing with its Ethereum key, say). */
import { readFileSync, writeFileSync } from "node:fs";
import { cosignEnvelopeText } from "../../protocol/envelope/verify.ts";
import { addSigningOptions, command, parse, signingKeys, str } from "../common.ts";

export async function signMain(args: string[]): Promise<number> {
  const cmd = addSigningOptions(command("sign", "add signatures to a signed envelope; refuses one whose content no longer matches its hash")
    .argument("<envelope>", "the envelope to co-sign")
    .option("--output <file>", "write the co-signed envelope here (default: in place)"));
  const { opts: v, args: positionals } = parse(cmd, args);
  const keys = signingKeys(v, true);
  const text = readFileSync(positionals[0]!, "utf8");
  const out = str(v.output) ?? positionals[0]!;
  writeFileSync(out, await cosignEnvelopeText(text, keys));
  console.log(`added ${[keys.ed25519 && "ed25519", keys.ethereumPrivateKey && "eip191", keys.sigstore && "sigstore"].filter(Boolean).join(", ")} signature(s): ${out}`);
  return 0;
}
