/** The explorer's configuration: each bad value refused, naming the field; and its leaf sample. */
import assert from "node:assert/strict";
import { loadExplorerConfig, parseLabels } from "../../explorer/config.ts";
import { VerificationStats } from "../../explorer/stats.ts";
import { NodeConfigError } from "../../runtime/config.ts";

const A = "0x1111111111111111111111111111111111111111";

describe("explorer configuration", () => {
  it("has working defaults and takes flags over environment variables", () => {
    const c = loadExplorerConfig({ argv: ["--port", "0", "--provers", "http://127.0.0.1:1,http://127.0.0.1:2"], env: { EXPLORER_PORT: "9999", EXPLORER_STATS_LEAVES: "2" } });
    assert.equal(c.http.port, 0);
    assert.deepEqual(c.provers, ["http://127.0.0.1:1", "http://127.0.0.1:2"]);
    assert.equal(c.stats.leavesPerBatch, 2);
    assert.equal(c.chain.rpcUrl, "http://127.0.0.1:8545");
    assert.equal(loadExplorerConfig({ env: {} }).http.port, 8700);
  });

  it("refuses bad values, naming the field", () => {
    const cases: [string[], Record<string, string>, string][] = [
      [["--provers", "ftp://x"], {}, "provers.0"],
      [["--port", "70000"], {}, "http.port"],
      [["--stats-leaves", "65"], {}, "stats.leavesPerBatch"],
      [["--labels", `${A}=<script>`], {}, "labels.0"],
      [["--labels", "notanaddress=x"], {}, "labels.0"],
      [[], { EXPLORER_RPC_URL: "nope" }, "chain.rpcUrl"],
      [["--nope", "1"], {}, "argv"],
    ];
    for (const [argv, env, field] of cases) {
      assert.throws(() => loadExplorerConfig({ argv, env }), (e: unknown) => e instanceof NodeConfigError && e.field === field, `${argv.join(" ")} ${JSON.stringify(env)}`);
    }
    assert.throws(() => parseLabels([`${A}=one`, `${A.toUpperCase().replace("0X", "0x")}=two`]), /labelled twice/);
    assert.deepEqual([...parseLabels([`${A}=honest`])], [[A, "honest"]]);
  });

  it("samples leaves evenly, first and last included", () => {
    assert.deepEqual(VerificationStats.sample(8, 4), [0, 2, 5, 7]);
    assert.deepEqual(VerificationStats.sample(3, 4), [0, 1, 2]);
    assert.deepEqual(VerificationStats.sample(100, 1), [0]);
    assert.deepEqual(VerificationStats.sample(100, 0), []);
  });
});
