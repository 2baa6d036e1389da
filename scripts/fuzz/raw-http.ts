/**
 * One HTTP exchange over a fresh TCP connection on loopback, with the bytes exactly as the fuzzer
 * built them (a client library would refuse to send most of them); the answer is read until
 * the server closes, bounded by `hangMs`.
 */
import net from "node:net";

export interface RawAnswer {
  /** undefined when the server closed without a status line. */
  status?: number;
  headers: Record<string, string>;
  body: string;
  hang: boolean;
}

/**
 * `halfClose`: end the write side after the request. A complete HTTP request is answered with
 * the write side open (Node treats a client's FIN as the client leaving); an incomplete one
 * (a body shorter than its Content-Length, bytes that are not HTTP) is completed by the FIN.
 */
export function exchange(host: string, port: number, request: Uint8Array, hangMs: number, halfClose = false): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (hang: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(Buffer.concat(chunks).toString("latin1"), hang));
    };
    const socket = net.connect(port, host, () => {
      if (halfClose) socket.end(Buffer.from(request));
      else socket.write(Buffer.from(request));
    });
    const timer = setTimeout(() => finish(true), hangMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("close", () => finish(false));
    socket.on("error", () => finish(false));
  });
}

function parse(text: string, hang: boolean): RawAnswer {
  // Interim answers (100 Continue) come first; the answer is the first final one.
  for (;;) {
    const interim = /^HTTP\/1\.[01] 1\d\d[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/.exec(text);
    if (!interim) break;
    text = text.slice(interim[0].length);
  }
  const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
  if (!match) return { headers: {}, body: "", hang };
  const end = text.indexOf("\r\n\r\n");
  const headers: Record<string, string> = {};
  for (const line of text.slice(match[0].length, end < 0 ? undefined : end).split("\r\n")) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  let body = end < 0 ? "" : text.slice(end + 4);
  if (headers["transfer-encoding"]?.includes("chunked")) body = dechunk(body);
  // Bytes after the answer (the server reading a leftover body as a second request) are not this answer.
  else if (headers["content-length"] !== undefined) body = body.slice(0, Number(headers["content-length"]));
  return { status: Number(match[1]), headers, body: Buffer.from(body, "latin1").toString("utf8"), hang };
}

function dechunk(text: string): string {
  let out = "";
  let at = 0;
  for (;;) {
    const eol = text.indexOf("\r\n", at);
    if (eol < 0) return out;
    const size = Number.parseInt(text.slice(at, eol), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** Whether `body` is an error in the shape { error: { message, type, param, code } }. */
export function isOpenAIError(body: string): boolean {
  try {
    const error = (JSON.parse(body) as { error?: Record<string, unknown> }).error;
    return !!error && typeof error.message === "string" && typeof error.type === "string" && "param" in error && "code" in error;
  } catch {
    return false;
  }
}
