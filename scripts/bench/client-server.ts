/**
 * Child-process entry for bench:client: runs the loopback streaming server in its own process
 * (so that it does not share the measured client's event loop) and prints its port as one JSON
 * line. Options: --tokens N --jitter J --first-ms X --gap-ms Y --models a,b (serve only those).
 * Exits when its parent closes stdin. Tests also use it as a server they can SIGKILL mid-run.
 */
import { parseArgs } from "node:util";
import { startLoopbackServer } from "../../benchmark/loopback-server.ts";

const { values } = parseArgs({ options: { tokens: { type: "string" }, jitter: { type: "string" }, "first-ms": { type: "string" }, "gap-ms": { type: "string" }, models: { type: "string" } } });
const server = await startLoopbackServer({
  tokens: Number(values.tokens ?? 16),
  tokenJitter: Number(values.jitter ?? 0),
  firstTokenDelayMs: Number(values["first-ms"] ?? 0),
  interTokenDelayMs: Number(values["gap-ms"] ?? 0),
  ...(values.models ? { models: values.models.split(",") } : {}),
});
server.record = false;
process.stdout.write(JSON.stringify({ port: server.port }) + "\n");
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
