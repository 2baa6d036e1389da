import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "mocha";
import { DoubleSignRefusedError, SigningGuard } from "../../operator/signing-guard.ts";

const digestA = `0x${"aa".repeat(32)}` as const;
const digestB = `0x${"bb".repeat(32)}` as const;

describe("operator/signing-guard (level on disk)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "vb-guard-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("allows re-signing the same digest and refuses a different one, across a restart", async () => {
    const path = join(dir, "guard");
    let guard = new SigningGuard(path);
    await guard.open();
    await guard.authorize("attest:1", digestA, "valid");
    await guard.authorize("attest:1", digestA, "valid");
    await guard.close();

    guard = new SigningGuard(path);
    await guard.open();
    await assert.rejects(guard.authorize("attest:1", digestB, "invalid"), (e: unknown) => e instanceof DoubleSignRefusedError && e.signedDigest === digestA);
    await guard.authorize("attest:1", digestA);
    await guard.authorize("attest:2", digestB);
    assert.equal((await guard.signed("attest:1"))?.note, "valid");
    assert.equal(await guard.signed("attest:3"), undefined);
    await guard.close();
  });

  it("lets exactly one of two concurrent conflicting decisions through", async () => {
    const guard = new SigningGuard(join(dir, "race"));
    await guard.open();
    const results = await Promise.allSettled([guard.authorize("vote:9", digestA), guard.authorize("vote:9", digestB)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    await guard.close();
  });
});
