/**
 * runtime/follower.ts on Hardhat's in-process chain: events handed over one by one, a failing
 * handler retried on the next poll with the blocks before it done, and skipped (logged, counted)
 * once it has failed enough times for long enough, so that the cursor always moves on.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { network } from "hardhat";
import { Counter, Registry } from "prom-client";
import type { PublicClient } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { Role } from "../../protocol/eip712/index.ts";
import { ChainFollower, type ContractEvent } from "../../runtime/follower.ts";
import { createLogger } from "../../runtime/observability.ts";
import { deploySystem } from "../helpers/contracts.ts";

const connection = await network.create();

describe("runtime/follower: isolated events, a cursor that always advances", () => {
  it("retries a failing event on the next poll, then skips it with a log line and a metric", async () => {
    const sys = await deploySystem(connection, "native", "follower");
    const prover = await sys.addMember(Role.Prover);
    const start = await sys.publicClient.getBlockNumber();
    const ids = [(await sys.submitBatch(prover)).batchId, (await sys.submitBatch(prover)).batchId, (await sys.submitBatch(prover)).batchId];
    let saved: bigint | undefined;
    const handled: bigint[] = [];
    let poisonAttempts = 0;
    let clock = 0;
    const lines: string[] = [];
    const registry = new Registry();
    const skipped = new Counter({ name: "skipped_total", help: "skipped", labelNames: ["reason"], registers: [registry] });
    const follower = new ChainFollower({
      publicClient: sys.publicClient as PublicClient,
      address: sys.batchManager.address,
      abi: batchManagerAbi,
      logRange: 1000,
      load: async () => saved,
      save: async (block) => {
        saved = block;
      },
      startBlock: start,
      handle: async (event: ContractEvent) => {
        if (event.eventName !== "BatchSubmitted") return;
        const id = event.args.batchId as bigint;
        if (id === ids[1]) {
          poisonAttempts++;
          throw new TypeError("a value this handler cannot take");
        }
        if (!handled.includes(id)) handled.push(id);
      },
      log: createLogger("test", "info", new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } })),
      skipped,
      maxAttempts: 3,
      giveUpAfterMs: 1_000,
      now: () => clock,
    });
    await follower.open();
    await assert.rejects(follower.poll(), /cannot take/);
    assert.deepEqual(handled, [ids[0]], "the event before the failing one is done");
    assert.ok(saved! > start, "and the cursor moved up to the failing event's block");
    await assert.rejects(follower.poll(), /cannot take/);
    await assert.rejects(follower.poll(), /cannot take/);
    assert.equal(poisonAttempts, 3);
    // Three attempts, but not yet for long enough (an RPC outage would be waited out).
    clock = 2_000;
    await follower.poll();
    assert.equal(poisonAttempts, 4);
    assert.deepEqual(handled, [ids[0], ids[2]], "the events after it are handled");
    assert.ok(follower.cursor > (await sys.publicClient.getBlockNumber()), "the cursor is past the head");
    assert.match(await registry.metrics(), /skipped_total\{reason="BatchSubmitted-handler-failed"\} 1/);
    assert.ok(lines.some((l) => /event skipped: its handler kept failing/.test(l) && /cannot take/.test(l)), lines.join(""));
  });
});
