import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "../../runtime/observability.ts";
import { clearRegisteredSecrets, redactText, redactUrl, registerSecret } from "../../runtime/redact.ts";

describe("runtime/redact: no secret in logs, errors or API bodies", () => {
  afterEach(() => clearRegisteredSecrets());

  it("redacts URL credentials, key-like path segments and key query values, keeping the rest readable", () => {
    const cases: [string, string][] = [
      ["https://user:pw@host.io:8545/x", "https://***@host.io:8545/x"],
      ["https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161", "https://mainnet.infura.io/v3/***"],
      ["https://eth-mainnet.g.alchemy.com/v2/abc_DEF-123456789xyzQWE", "https://eth-mainnet.g.alchemy.com/v2/***"],
      ["https://rpc.example/?apikey=SECRET123&chain=1", "https://rpc.example/?apikey=***&chain=1"],
      ["https://rpc.example/?access_token=tok-1234&x=2", "https://rpc.example/?access_token=***&x=2"],
      // What is public stays: hosts, ports, numeric ids, ordinary paths.
      ["http://127.0.0.1:8545", "http://127.0.0.1:8545"],
      ["http://127.0.0.1:8000/v1/batches/12/leaves/3", "http://127.0.0.1:8000/v1/batches/12/leaves/3"],
    ];
    for (const [input, expected] of cases) assert.equal(redactUrl(input), expected, input);
  });

  it("redacts every URL and bearer token in a text, and registered secrets wherever they appear", () => {
    registerSecret("https://rpc.example/v2/sk_live_abcdefghijklmnop123");
    registerSecret("correct horse battery staple");
    const text = 'HTTP request failed.\nURL: https://rpc.example/v2/sk_live_abcdefghijklmnop123\nAuthorization: Bearer sk-abc.def\nkey=sk_live_abcdefghijklmnop123 password "correct horse battery staple"';
    const out = redactText(text);
    assert.doesNotMatch(out, /sk_live|sk-abc|correct horse/);
    assert.match(out, /URL: https:\/\/rpc\.example\/v2\/\*\*\*/);
    assert.match(out, /Bearer \*\*\*/);
  });

  it("the node logger redacts each line before writing it (errors with URLs included)", () => {
    const lines: string[] = [];
    const log = createLogger("test", "info", new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } }));
    registerSecret("s3cr3t-api-key-value");
    log.warn({ err: new Error("cannot reach https://u:p4ssw0rd@rpc.example/v3/9aa3d95b3bc440fa88ea12eaa4456161"), key: "s3cr3t-api-key-value" }, "step failed");
    const all = lines.join("");
    assert.ok(all.includes("step failed"));
    assert.doesNotMatch(all, /p4ssw0rd|9aa3d95b3bc440fa88ea12eaa4456161|s3cr3t-api-key-value/);
    assert.doesNotThrow(() => JSON.parse(lines[0]!), "still one JSON object per line");
  });
});
