/** `vb keygen --out FILE`: a dev ed25519 key file (mode 0600) and its public key. */
import { existsSync, writeFileSync } from "node:fs";
import { generateEd25519, publicKeyToPem, writeKeyFile } from "../../protocol/envelope/ed25519.ts";
import { command, parse, UsageError } from "../common.ts";

export async function keygenMain(args: string[]): Promise<number> {
  const cmd = command("keygen", "write a dev ed25519 key file (mode 0600) and FILE.pub")
    .requiredOption("--out <file>", "the key file to write (never overwritten)")
    .option("--label <text>", "a label stored in the key file", "vb dev key");
  const { opts: v } = parse(cmd, args);
  const out = String(v.out);
  if (existsSync(out)) throw new UsageError(`${out} exists; refusing to overwrite a key`);
  const pair = generateEd25519();
  writeKeyFile(out, pair, String(v.label));
  const pem = publicKeyToPem(pair.publicKey);
  writeFileSync(`${out}.pub`, pem + "\n");
  console.log(`wrote ${out} (mode 0600) and ${out}.pub\n${pem}`);
  return 0;
}
