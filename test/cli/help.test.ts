/**
 * `--help` on every node and command: each entry point, run as a process the way its npm
 * script runs it, prints its usage and exits 0 without starting anything; a wrong flag exits 2.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "../helpers/cli.ts";

function run(script: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, script), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

const CASES: [string, string[], RegExp][] = [
  ["prover/main.ts", ["--help"], /Usage: npm run prover -- \[options\][\s\S]*--rpc-url <value> +sets chain\.rpcUrl \(or PROVER_RPC_URL\)[\s\S]*PROVER_BATCH_MAX_RECORDS/],
  ["aggregator/main.ts", ["-h"], /Usage: npm run aggregator -- \[options\][\s\S]*AGGREGATOR_GRACE_MS/],
  ["operator/main.ts", ["--help"], /Usage: npm run operator -- \[options\] \[command\][\s\S]*keys[\s\S]*status[\s\S]*deregister[\s\S]*withdraw/],
  ["operator/main.ts", ["run", "--help"], /Usage: npm run operator -- run \[options\][\s\S]*--deployment <value> +sets chain\.deployment \(or OPERATOR_DEPLOYMENT\)/],
  ["operator/main.ts", ["keys", "create", "--help"], /Usage: npm run operator -- keys create \[options\][\s\S]*--name <name>/],
  ["operator/main.ts", ["withdraw", "--help"], /Usage: npm run operator -- withdraw \[options\]/],
  ["explorer/main.ts", ["--help"], /Usage: npm run explorer -- \[options\][\s\S]*--provers <a,b,...>/],
  ["scripts/start.ts", ["--help"], /Usage: npm start -- \[options\][\s\S]*--fresh[\s\S]*--cheater <weights>/],
  ["cli/vb.ts", ["receipt", "--help"], /Usage: vb receipt \[options\] <record>[\s\S]*--prover <url>[\s\S]*--rpc-url <url>/],
  ["cli/vb.ts", ["root", "--help"], /Usage: vb root \[options\] <root>/],
  ["cli/vb.ts", ["--help"], /receipt RECORD_ID\|RESPONSE\.json --prover URL --rpc-url URL/],
];

describe("--help on every node and command", function () {
  this.timeout(180_000);

  it("prints usage and exits 0", async () => {
    const results: { code: number; out: string }[] = [];
    for (let i = 0; i < CASES.length; i += 4) results.push(...(await Promise.all(CASES.slice(i, i + 4).map(([script, args]) => run(script, args)))));
    CASES.forEach(([script, args, pattern], i) => {
      assert.equal(results[i]!.code, 0, `${script} ${args.join(" ")}: ${results[i]!.out}`);
      assert.match(results[i]!.out, pattern, `${script} ${args.join(" ")}`);
    });
  });

  it("refuses an unknown flag with exit 2, naming it", async () => {
    const [operator, start, explorer] = await Promise.all([run("operator/main.ts", ["status", "--bogus"]), run("scripts/start.ts", ["--bogus"]), run("explorer/main.ts", ["--bogus"])]);
    assert.equal(operator.code, 2);
    assert.match(operator.out, /unknown option '--bogus'/);
    assert.equal(start.code, 2);
    assert.match(start.out, /unknown option '--bogus'/);
    assert.equal(explorer.code, 2);
    assert.match(explorer.out, /--bogus/);
  });
});
