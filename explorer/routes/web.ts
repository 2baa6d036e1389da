/**
 * The page itself: one HTML document, its script and its style sheet (built by bundle.ts).
 * Pages are drawn in the browser from the JSON API; the "check a response" view reads the
 * prover and the chain directly from the browser.
 */
import type { FastifyPluginAsync } from "fastify";
import type { WebAssets } from "../bundle.ts";

const anyQuery = { type: "object" } as const;
const text = { 200: { type: "string" } } as const;
// Scripts and styles from here only; the page talks to the API, the provers and the RPC endpoint.
const CSP = "default-src 'self'; connect-src 'self' http: https:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export const webRoutes: FastifyPluginAsync<{ assets: WebAssets }> = async (app, { assets }) => {
  const send = (body: string, type: string) => async (_request: unknown, reply: { type(t: string): { headers(h: Record<string, string>): { send(b: string): unknown } } }) =>
    reply.type(type).headers({ "cache-control": "no-cache", "content-security-policy": CSP, "x-content-type-options": "nosniff" }).send(body);
  app.get("/", { schema: { querystring: anyQuery, response: text } }, send(assets["index.html"], "text/html; charset=utf-8"));
  app.get("/assets/app.js", { schema: { querystring: anyQuery, response: text } }, send(assets["app.js"], "text/javascript; charset=utf-8"));
  app.get("/assets/app.css", { schema: { querystring: anyQuery, response: text } }, send(assets["app.css"], "text/css; charset=utf-8"));
};
