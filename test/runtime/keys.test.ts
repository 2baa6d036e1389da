import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "mocha";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { KeyLoadError, loadAccount, writeKeystore } from "../../runtime/keys.ts";

// Cheap scrypt parameters keep the test fast; real keystores use the default (N = 2^17).
const FAST = { scrypt: { N: 1 << 10 } };

describe("runtime/keys", function () {
  this.timeout(30_000);
  let dir: string;
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "vb-keys-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips an encrypted keystore", async () => {
    const path = join(dir, "op.json");
    await writeKeystore(path, key, "correct horse", FAST);
    const account = await loadAccount({ keystore: path, password: "correct horse" }, "signer");
    assert.equal(account.address, address);
    await assert.rejects(writeKeystore(path, key, "again", FAST), /EEXIST/);
  });

  it("names the field on a wrong password, a non-keystore file and a missing file", async () => {
    const path = join(dir, "op2.json");
    await writeKeystore(path, key, "right", FAST);
    await assert.rejects(loadAccount({ keystore: path, password: "wrong" }, "signer"), (e: unknown) => e instanceof KeyLoadError && e.field === "signer.keystore" && /wrong password/.test(e.message));
    const notKeystore = join(dir, "junk.json");
    await writeFile(notKeystore, '{"hello":1}', { mode: 0o600 });
    await assert.rejects(loadAccount({ keystore: notKeystore, password: "x" }, "signer"), /not an encrypted JSON keystore/);
    await assert.rejects(loadAccount({ keystore: join(dir, "missing.json"), password: "x" }, "signer"), /ENOENT/);
  });

  it("refuses a keystore that group or others can read or write", async () => {
    const path = join(dir, "loose.json");
    await writeKeystore(path, key, "pw", FAST);
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      await chmod(path, mode);
      await assert.rejects(loadAccount({ keystore: path, password: "pw" }, "signer"), (e: unknown) => e instanceof KeyLoadError && e.field === "signer.keystore" && /chmod 600/.test(e.message));
    }
    await chmod(path, 0o600);
    assert.equal((await loadAccount({ keystore: path, password: "pw" }, "signer")).address, address);
  });

  it("loads a plain key file and refuses one that others can read or that is not a key", async () => {
    const path = join(dir, "key.hex");
    await writeFile(path, `${key}\n`, { mode: 0o600 });
    assert.equal((await loadAccount({ keyFile: path })).address, address);
    await chmod(path, 0o644);
    await assert.rejects(loadAccount({ keyFile: path }), (e: unknown) => e instanceof KeyLoadError && /chmod 600/.test(e.message));
    const bad = join(dir, "bad.hex");
    await writeFile(bad, "0x1234", { mode: 0o600 });
    await assert.rejects(loadAccount({ keyFile: bad }), /32-byte hex private key/);
  });
});
