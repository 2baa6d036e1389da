import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { StreamingClient } from "../../benchmark/http-client.ts";
import { HttpProtocolError, ResponseParser, type ResponseHead } from "../../benchmark/http/response-parser.ts";
import { startLoopbackServer } from "../../benchmark/loopback-server.ts";

/** Runs `bytes` through a fresh parser, split into the given pieces; returns what it reported. */
function parse(bytes: Buffer | string, split: number[] = [], eof = false) {
  const buf = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
  const out = { head: null as ResponseHead | null, body: "", ended: false, reusable: false };
  const parser = new ResponseParser({
    onHead: (h) => (out.head = h),
    onBody: (b, start, end) => (out.body += b.toString("latin1", start, end)),
    onEnd: () => (out.ended = true),
  }, { maxHeadBytes: 256, maxChunkLineBytes: 16 });
  let at = 0;
  for (const cut of [...split, buf.length]) {
    parser.push(buf.subarray(at, cut));
    at = cut;
  }
  if (eof) parser.eof();
  out.reusable = parser.reusable;
  return out;
}

const SSE = 'data: {"choices":[{"delta":{"content":"he"}}]}\n\ndata: {"choices":[{"delta":{"content":"llo"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\ndata: [DONE]\n\n';
const chunked = (parts: string[], head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n") =>
  head + parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join("") + "0\r\n\r\n";

describe("HTTP/1.1 response parser", () => {
  it("reads a chunked response identically however the bytes are split", () => {
    const wire = chunked(["data: a\n\n", "data: bc\n\n"], "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
    for (let cut = 0; cut <= wire.length; cut++) {
      for (const second of [cut, Math.min(wire.length, cut + 3)]) {
        const r = parse(wire, [cut, second]);
        assert.equal(r.body, "data: a\n\ndata: bc\n\n", `split at ${cut},${second}`);
        assert.equal(r.head!.status, 200);
        assert.equal(r.head!.headers.get("x-a"), "1, 2");
        assert.ok(r.ended && r.reusable);
      }
    }
    // One byte at a time, with chunk extensions and trailers.
    const ext = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;name=v\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n";
    assert.equal(parse(ext, Array.from({ length: ext.length }, (_, i) => i)).body, "abc");
  });

  it("frames bodies by Content-Length, by the connection closing, or not at all", () => {
    const fixed = parse("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nerror", [20]);
    assert.deepEqual([fixed.head!.status, fixed.head!.reason, fixed.body, fixed.ended, fixed.reusable], [500, "Internal Server Error", "error", true, true]);
    const closeDelimited = parse("HTTP/1.1 200 OK\r\n\r\nuntil the end", [], true);
    assert.deepEqual([closeDelimited.body, closeDelimited.ended, closeDelimited.reusable], ["until the end", true, false]);
    const empty = parse("HTTP/1.1 204 No Content\r\n\r\n");
    assert.deepEqual([empty.body, empty.ended, empty.reusable], ["", true, true]);
    // Interim responses come first and are skipped.
    assert.equal(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").body, "ok");
  });

  it("reuses a connection only when the server allows it", () => {
    assert.equal(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").reusable, false);
    assert.equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").reusable, false);
    assert.equal(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").reusable, true);
    // Both framings at once: read as chunked, never reused.
    assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").reusable, false);
  });

  it("rejects malformed, truncated and oversized responses with a clear error", () => {
    const bad: [string, RegExp, boolean?][] = [
      ["HTTP/2 200 OK\r\n\r\n", /not an HTTP\/1.x status line/],
      ["hello world\r\n\r\n", /not an HTTP\/1.x status line/],
      ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /malformed header line/],
      ["HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", /malformed header line/],
      [`HTTP/1.1 200 OK\r\nX-Big: ${"x".repeat(300)}\r\n\r\n`, /response head larger than 256 bytes/],
      [`HTTP/1.1 200 OK\r\nX-Big: ${"x".repeat(300)}`, /response head larger than 256 bytes/],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /invalid chunk size line/],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", /invalid chunk size line/],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", /chunk data is longer than its declared size/],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n", /bare LF/],
      [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${"e".repeat(40)}\r\n`, /line longer than 16 bytes/],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", /transfer-encoding gzip, chunked not supported/],
      ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", /invalid content-length/],
      ["HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n", /invalid content-length/],
      ["HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n", /compressed response \(content-encoding: gzip\) not supported/],
      ["HTTP/1.1 101 Switching Protocols\r\n\r\n", /unexpected protocol upgrade/],
      ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc", /1 bytes after the end of the response/],
      ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", /connection closed in the response body/, true],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", /connection closed in the response body/, true],
      ["HTTP/1.1 200 O", /connection closed in the response head/, true],
      ["", /connection closed before any response/, true],
    ];
    for (const [wire, error, eof] of bad) {
      assert.throws(() => parse(wire, [], eof), (e: unknown) => e instanceof HttpProtocolError && error.test(e.message), JSON.stringify(wire.slice(0, 60)));
    }
  });
});

/** A scripted TCP server: `reply(request index, socket, connection index)` answers each request. */
async function scriptedServer(reply: (n: number, socket: net.Socket, connection: number) => void) {
  let requests = 0;
  let connections = 0;
  const bodies: string[] = [];
  const server = net.createServer((socket) => {
    const connection = connections++;
    let pending = Buffer.alloc(0);
    socket.on("error", () => undefined);
    socket.on("data", (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = pending.toString("latin1", 0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        bodies.push(pending.toString("utf8", end + 4, end + 4 + length));
        pending = pending.subarray(end + 4 + length);
        reply(requests++, socket, connection);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    bodies,
    get connections() { return connections; },
    close: () => new Promise<void>((r) => { server.close(() => r()); server.unref(); }),
  };
}

const client = (baseUrl: string, over: Partial<ConstructorParameters<typeof StreamingClient>[0]> = {}) =>
  new StreamingClient({ baseUrl, api: "chat", model: "m", maxTokens: 4, temperature: 0, maxSockets: 2, ...over });

describe("streaming HTTP client on loopback", function () {
  this.timeout(30_000);

  it("streams completions over a bounded pool of kept-alive connections", async () => {
    const server = await startLoopbackServer({ tokens: 3, interTokenDelayMs: 2 });
    const c = client(server.url, { maxSockets: 3, apiKey: "sk-test", extraBody: { seed: 7 } });
    try {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => c.send(`prompt ${i} with "quotes" and ünïcode`)));
      for (const r of results) {
        assert.equal(r.error, null);
        assert.deepEqual([r.ok, r.status, r.outputTokens, r.tokenSource, r.chunkTimes.length], [true, 200, 3, "server_usage", 3]);
        assert.ok(r.sentAt >= r.scheduledAt && r.firstTokenAt! >= r.sentAt && r.endAt >= r.firstTokenAt!);
      }
      // 12 requests, 3 sockets: 9 waited for a free connection, and that wait is queueing, not TTFT.
      assert.ok(results.filter((r) => r.sentAt - r.scheduledAt > 1).length >= 6);
      assert.deepEqual(server.requests.map((q) => (q.body.messages as { content: string }[])[0]!.content).sort(), Array.from({ length: 12 }, (_, i) => `prompt ${i} with "quotes" and ünïcode`).sort());
      assert.equal(server.requests[0]!.body.seed, 7);
      const completions = await client(server.url, { api: "completions" }).send("plain");
      assert.deepEqual([completions.ok, completions.chunkTimes.length], [true, 3]);
    } finally {
      c.close();
      await server.close();
    }
  });

  it("reads a response that arrives a few bytes at a time", async () => {
    const wire = chunked([SSE.slice(0, 30), SSE.slice(30)]);
    const server = await scriptedServer((_n, socket) => {
      let at = 0;
      const drip = () => {
        socket.write(wire.slice(at, at + 7));
        at += 7;
        if (at < wire.length) setTimeout(drip, 1);
      };
      drip();
    });
    const c = client(server.url);
    try {
      const r = await c.send("x");
      assert.equal(r.error, null);
      assert.deepEqual([r.outputTokens, r.promptTokens, r.outputChars, r.chunkTimes.length], [2, 3, 5, 2]);
      assert.ok(r.chunkTimes[1]! > r.chunkTimes[0]!, "each content event keeps the arrival time of its own bytes");
    } finally {
      c.close();
      await server.close();
    }
  });

  it("keeps every byte of bursts larger than one read and than the arrival arena", async () => {
    // 16 streams of 5,000 events (about 650 kB each) written at once.
    const events = Array.from({ length: 5_000 }, (_, i) => `data: {"choices":[{"delta":{"content":"t${i % 10}"}}]}\n\n`);
    const wire = chunked([...Array.from({ length: 10 }, (_, k) => events.slice(k * 500, (k + 1) * 500).join("")), "data: [DONE]\n\n"]);
    const server = await scriptedServer((_n, socket) => socket.write(wire));
    // A small arena, so that it fills up many times over (reads larger than it included).
    const c = client(server.url, { maxSockets: 16, arenaBytes: 4096 });
    try {
      const results = await Promise.all(Array.from({ length: 16 }, () => c.send("burst")));
      for (const r of results) {
        assert.equal(r.error, null);
        assert.deepEqual([r.chunkTimes.length, r.outputChars, r.tokenSource], [5_000, 10_000, "stream_chunks"]);
      }
    } finally {
      c.close();
      await server.close();
    }
  });

  it("reports error statuses and keeps using the connection", async () => {
    const server = await scriptedServer((n, socket) => {
      if (n === 0) socket.write('HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n{"error":{"message":"slow down"}}\n');
      else socket.write(chunked([SSE]));
    });
    const c = client(server.url, { maxSockets: 1 });
    try {
      const failed = await c.send("a");
      assert.deepEqual([failed.ok, failed.status], [false, 429]);
      assert.match(failed.error!, /^HTTP 429: \{"error":\{"message":"slow down"\}\}/);
      assert.equal((await c.send("b")).ok, true);
      assert.equal(server.connections, 1);
    } finally {
      c.close();
      await server.close();
    }
  });

  it("retries once when the server closed a kept-alive connection before answering", async () => {
    // The server answers, then drops the connection as the next request arrives on it.
    const server = await scriptedServer((n, socket) => {
      if (n === 1) socket.destroy();
      else socket.write(chunked([SSE]));
    });
    const c = client(server.url, { maxSockets: 1 });
    try {
      assert.equal((await c.send("a")).ok, true);
      const again = await c.send("b");
      assert.equal(again.error, null);
      assert.equal(server.connections, 2);
      assert.equal(server.bodies.length, 3);
    } finally {
      c.close();
      await server.close();
    }
  });

  it("fails cleanly on garbage, truncation, silence, refusal and a bad stream, then goes on", async () => {
    const script = [
      (s: net.Socket) => s.write("SSH-2.0-OpenSSH_9.6\r\n\r\n"),
      (s: net.Socket) => s.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\ndata: {\"choi"),
      () => undefined, // never answers
      (s: net.Socket) => s.write(chunked(["data: {not json}\n\n"])),
      (s: net.Socket) => s.write(chunked(['data: {"error":{"message":"model overloaded"}}\n\n'])),
      (s: net.Socket) => s.write(chunked(['data: {"choices":[{"delta":{"content":"x"}}]}\n\n'])),
      (s: net.Socket) => s.write(chunked([SSE])),
    ];
    const server = await scriptedServer((n, socket) => script[n]!(socket));
    const c = client(server.url, { maxSockets: 1, timeoutMs: 300 });
    try {
      const errors = [];
      for (let i = 0; i < script.length; i++) errors.push((await c.send(`r${i}`)).error);
      assert.match(errors[0]!, /not an HTTP\/1.x status line: "SSH-2.0-OpenSSH_9.6"/);
      assert.match(errors[1]!, /connection closed in the response body/);
      assert.match(errors[2]!, /timeout after 300 ms without data/);
      assert.match(errors[3]!, /stream event is not JSON: \{not json\}/);
      assert.match(errors[4]!, /server error in stream: \{"message":"model overloaded"\}/);
      assert.equal(errors[5], "stream ended without [DONE]");
      assert.equal(errors[6], null);
    } finally {
      c.close();
      await server.close();
    }
    const gone = await scriptedServer(() => undefined);
    await gone.close();
    const refused = await client(gone.url).send("x");
    assert.equal(refused.ok, false);
    assert.match(refused.error!, /ECONNREFUSED/);
  });

  it("fails requests still in flight when the client is closed", async () => {
    const server = await scriptedServer(() => undefined);
    const c = client(server.url);
    try {
      const pending = [c.send("a"), c.send("b"), c.send("c")];
      await new Promise((r) => setTimeout(r, 100));
      c.close();
      const results = await Promise.all(pending);
      for (const r of results) assert.match(r.error!, /client closed/);
      assert.match((await c.send("late")).error!, /client closed/);
    } finally {
      await server.close();
    }
  });

  it("speaks HTTPS, checking the certificate against the CA it is given", async () => {
    const dir = new URL("../fixtures/tls/", import.meta.url);
    const cert = readFileSync(new URL("localhost.crt", dir));
    const server = tls.createServer({ key: readFileSync(new URL("localhost.key", dir)), cert }, (socket) => {
      socket.once("data", () => socket.write(chunked([SSE])));
      socket.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const trusted = client(`https://localhost:${port}/v1`, { tls: { ca: cert, host: "127.0.0.1" } });
      const ok = await trusted.send("x");
      trusted.close();
      assert.equal(ok.error, null);
      assert.equal(ok.outputTokens, 2);
      const untrusted = client(`https://127.0.0.1:${port}/v1`);
      const refused = await untrusted.send("x");
      untrusted.close();
      assert.equal(refused.ok, false);
      assert.match(refused.error!, /self-signed certificate/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
