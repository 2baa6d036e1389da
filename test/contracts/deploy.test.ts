import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, http } from "viem";
import { batchManagerAbi, stakeRegistryAbi, eigenServiceManagerAbi } from "../../protocol/contracts/abis.ts";
import { DeploymentNotFoundError, InvalidDeploymentError, loadDeployment, parseDeployment } from "../../protocol/contracts/index.ts";
import { DeployError, parseDeployArgs } from "../../scripts/deploy.ts";
import { freePort, HARDHAT_CLI, ROOT } from "../../scripts/network/launch.ts";

const TSX_CLI = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe("scripts/deploy.ts against a Hardhat node on loopback", () => {
  let node: ChildProcess | undefined;
  let rpcUrl = "";
  const outDir = mkdtempSync(path.join(tmpdir(), "vb-deploy-"));

  before(async function () {
    this.timeout(60_000);
    const port = await freePort();
    rpcUrl = `http://127.0.0.1:${port}`;
    node = spawn(process.execPath, [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hardhat node did not start within 45 s:\n${log}`)), 45_000);
      const onData = (d: Buffer) => {
        log += d;
        if (log.includes(`${rpcUrl}`) || log.includes("Started HTTP and WebSocket JSON-RPC server")) {
          clearTimeout(timer);
          resolve();
        }
      };
      node!.stdout!.on("data", onData);
      node!.stderr!.on("data", (d) => (log += d));
      node!.once("exit", (code) => reject(new Error(`hardhat node exited with ${code}:\n${log}`)));
    });
  });

  after(async () => {
    if (node && node.exitCode === null) {
      const exited = new Promise((resolve) => node!.once("exit", resolve));
      node.kill("SIGTERM");
      await exited;
    }
    rmSync(outDir, { recursive: true, force: true });
  });

  for (const mode of ["native", "eigenlayer"] as const) {
    it(`deploys in ${mode} mode, writes deployments/<chainId>.json, and the contracts answer`, async function () {
      this.timeout(90_000);
      const { code, output } = await run([TSX_CLI, "scripts/deploy.ts", "--rpc", rpcUrl, "--out", outDir, "--mode", mode], 80_000);
      assert.equal(code, 0, output);
      const client = createPublicClient({ transport: http(rpcUrl) });
      const chainId = await client.getChainId();
      const deployment = loadDeployment(chainId, outDir);
      assert.equal(deployment.mode, mode);
      assert.equal(deployment.contracts.registry.name, mode === "native" ? "StakeRegistry" : "EigenServiceManager");
      assert.deepEqual(deployment.contracts.batchManager.abi, batchManagerAbi);
      const bm = deployment.contracts.batchManager.address;
      assert.equal(await client.readContract({ address: bm, abi: batchManagerAbi, functionName: "registry" }), deployment.contracts.registry.address);
      assert.equal(await client.readContract({ address: bm, abi: batchManagerAbi, functionName: "attestThresholdBps" }), deployment.config.attestThresholdBps);
      assert.equal(await client.readContract({ address: deployment.contracts.registry.address, abi: stakeRegistryAbi, functionName: "slasher" }), bm);
      if (mode === "eigenlayer") {
        assert.equal(
          await client.readContract({ address: deployment.contracts.registry.address, abi: eigenServiceManagerAbi, functionName: "allocationManager" }),
          deployment.contracts.allocationManager!.address,
        );
      }
    });
  }

  it("the loader refuses a missing file, bad JSON and bad fields with typed errors", () => {
    assert.throws(() => loadDeployment(999_999, outDir), DeploymentNotFoundError);
    writeFileSync(path.join(outDir, "5.json"), "{ not json");
    assert.throws(() => loadDeployment(5, outDir), InvalidDeploymentError);
    const good = JSON.parse(JSON.stringify(loadDeployment(31337, outDir)));
    const bad = (mutate: (d: Record<string, any>) => void, fieldName: string) => {
      const copy = JSON.parse(JSON.stringify(good));
      mutate(copy);
      assert.throws(() => parseDeployment(copy), (e: unknown) => e instanceof InvalidDeploymentError && e.field === fieldName);
    };
    bad((d) => (d.mode = "solana"), "mode");
    bad((d) => (d.contracts.batchManager.address = "0x1234"), "contracts.batchManager.address");
    bad((d) => (d.config.disputeBond = 10), "config.disputeBond");
    bad((d) => (d.chainId = -1), "chainId");
    writeFileSync(path.join(outDir, "7.json"), JSON.stringify({ ...good, chainId: 8 }));
    assert.throws(() => loadDeployment(7, outDir), (e: unknown) => e instanceof InvalidDeploymentError && e.field === "chainId");
  });

  it("the deploy command line refuses bad options", async () => {
    await assert.rejects(parseDeployArgs(["--mode", "cosmos"]), DeployError);
    await assert.rejects(parseDeployArgs(["--rpc", "ftp://x"]), DeployError);
    await assert.rejects(parseDeployArgs(["--rpc"]), DeployError);
    await assert.rejects(parseDeployArgs(["--bogus", "1"]), DeployError);
    await assert.rejects(parseDeployArgs(["--profile", "reference-bf16-k128"]), DeployError);
    await assert.rejects(parseDeployArgs(["--profile", "/no/such/profile.json"]), /cannot read profile/);
    assert.equal((await parseDeployArgs([])).rpcUrl, "http://127.0.0.1:8545");
    assert.equal((await parseDeployArgs(["--mode", "eigenlayer"])).mode, "eigenlayer");
  });
});
