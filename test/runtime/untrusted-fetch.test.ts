/**
 * The untrusted-URL policy against real HTTP servers on 127.0.0.1: schemes, internal addresses
 * (literal and resolved), redirects, streamed size limits and one deadline for slow servers.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { UntrustedFetcher, UntrustedFetchError, parseCidr, type FetchRefusal } from "../../runtime/untrusted-fetch.ts";

const LOOPBACK = ["127.0.0.1/32"];

describe("runtime/untrusted-fetch: the policy for URLs someone else chose", function () {
  this.timeout(30_000);
  let server: Server;
  let base = "";
  let port = 0;
  let openRequests = 0;

  before(async () => {
    server = createServer((req, res) => {
      openRequests++;
      res.on("close", () => openRequests--);
      const url = req.url ?? "/";
      if (url === "/ok") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }));
      if (url === "/same-host") return void res.writeHead(302, { location: "/ok" }).end();
      if (url === "/loop") return void res.writeHead(302, { location: "/loop" }).end();
      if (url === "/other-host") return void res.writeHead(302, { location: `http://localhost:${port}/ok` }).end();
      if (url === "/metadata") return void res.writeHead(307, { location: "http://169.254.169.254/latest/meta-data" }).end();
      if (url === "/declared-huge") return void res.writeHead(200, { "content-length": String(1 << 30) }).end();
      if (url === "/streamed-huge") {
        // No Content-Length: the size is only known while reading, so the reader must count.
        res.writeHead(200, { "content-type": "application/octet-stream" });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        const pump = () => {
          while (sent < 64 && res.write(chunk)) sent++;
          if (sent < 64) res.once("drain", pump);
          else res.end();
        };
        return void pump();
      }
      if (url === "/drip") {
        res.writeHead(200, { "content-type": "application/json" });
        const timer = setInterval(() => res.write(" "), 100);
        res.on("close", () => clearInterval(timer));
        return;
      }
      if (url === "/not-json") return void res.writeHead(200).end("<html>");
      res.writeHead(404).end("missing");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const fetcher = (overrides: Partial<ConstructorParameters<typeof UntrustedFetcher>[0]> = {}) =>
    new UntrustedFetcher({ allowPrivateNetworks: LOOPBACK, maxBytes: 1 << 20, timeoutMs: 2_000, maxRedirects: 3, ...overrides });

  async function refused(promise: Promise<unknown>, kind: FetchRefusal, pattern?: RegExp): Promise<UntrustedFetchError> {
    let caught: unknown;
    await assert.rejects(promise, (error: unknown) => {
      caught = error;
      return error instanceof UntrustedFetchError && error.kind === kind && (!pattern || pattern.test(error.message));
    });
    return caught as UntrustedFetchError;
  }

  it("fetches JSON from an allowed address and follows a same-host redirect", async () => {
    assert.deepEqual(await fetcher().getJson(`${base}/ok`), { ok: true });
    const response = await fetcher().get(`${base}/same-host`);
    assert.equal(response.url, `${base}/ok`);
  });

  it("refuses schemes other than http and https", async () => {
    for (const url of ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "data:text/plain,hi", "gopher://127.0.0.1:70/"]) {
      await refused(fetcher().get(url), "scheme");
    }
    await refused(fetcher().get("not a url"), "url");
  });

  it("refuses loopback, private, link-local and reserved targets unless a CIDR allows them", async () => {
    const strict = fetcher({ allowPrivateNetworks: [] });
    for (const url of [`${base}/ok`, "http://127.0.0.2:1/", "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
      "http://100.64.0.1/", "http://0.0.0.0:1/", "http://[::1]:1/", "http://[::ffff:127.0.0.1]:1/", "http://[fe80::1]/", "http://[fd00::1]/", "http://224.0.0.1/", "http://2130706433/", "http://0x7f.1/"]) {
      await refused(strict.get(url), "address", /loopback, private, link-local or reserved/);
    }
    // 127.0.0.1/32 allowed: 127.0.0.2 (another loopback service) still is not.
    await refused(fetcher().get(`http://127.0.0.2:${port}/ok`), "address");
    assert.deepEqual(await fetcher().getJson(`${base}/ok`), { ok: true });
  });

  it("checks the address a host name resolves to (localhost is loopback)", async () => {
    await refused(fetcher({ allowPrivateNetworks: [] }).get(`http://localhost:${port}/ok`), "address", /localhost -> /);
    await refused(fetcher().get("http://no-such-host.invalid/"), "dns");
  });

  it("refuses redirects to another host or scheme, and too many redirects", async () => {
    await refused(fetcher().get(`${base}/other-host`), "redirect", /another host/);
    await refused(fetcher().get(`${base}/metadata`), "redirect");
    await refused(fetcher().get(`${base}/loop`), "redirect", /more than 3 redirects/);
  });

  it("refuses a body over the limit while streaming, and a declared one before reading it", async () => {
    await refused(fetcher({ maxBytes: 100_000 }).get(`${base}/streamed-huge`), "too-large", /larger than 100000 bytes/);
    await refused(fetcher().get(`${base}/declared-huge`), "too-large", /declares 1073741824 bytes/);
    // The connection is dropped, not drained: nothing stays open on the server.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(openRequests, 0);
  });

  it("bounds the whole fetch by one deadline: a server that drips bytes does not hold it open", async () => {
    const started = Date.now();
    await refused(fetcher({ timeoutMs: 500 }).get(`${base}/drip`), "timeout");
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  });

  it("names HTTP errors and non-JSON answers, and never shows URL credentials", async () => {
    const error = await refused(fetcher().get(`http://user:hunter2@127.0.0.1:${port}/missing`), "status");
    assert.equal(error.status, 404);
    assert.doesNotMatch(error.message, /hunter2/);
    await refused(fetcher().getJson(`${base}/not-json`), "json");
  });

  it("parses CIDR blocks strictly", () => {
    assert.deepEqual(parseCidr("10.0.0.0/8"), { address: "10.0.0.0", prefix: 8, family: "ipv4" });
    assert.deepEqual(parseCidr("::1"), { address: "::1", prefix: 128, family: "ipv6" });
    for (const bad of ["10.0.0.0/33", "localhost", "10.0.0.0/x", "::/129"]) assert.throws(() => parseCidr(bad), UntrustedFetchError);
  });
});
