/**
 * The explorer's read-only JSON API under /api, every route with its params, query and response
 * schemas: an overview, batches (with state history, attestation, disputes), per-batch
 * verification statistics, disputes with votes, slashings, operators and provers (stake,
 * verdicts), and the batches that committed a root. Everything comes from the chain history the
 * server keeps refreshed; the statistics from the explorer's own recomputation.
 */
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import type { Address, Hex } from "viem";
import type { Deployment } from "../../protocol/contracts/deployments.ts";
import type { ChainHistory } from "../../runtime/chain-history.ts";
import type { VerificationStats } from "../stats.ts";
import {
  batchDetail,
  batchDetailSchema,
  batchSummary,
  batchSummarySchema,
  dispute,
  disputeSchema,
  errorSchema,
  member,
  memberSchema,
  overviewSchema,
  slash,
  slashSchema,
  statsSchema,
} from "../views.ts";

export interface ApiOptions {
  history: ChainHistory;
  deployment: Deployment;
  stats: VerificationStats;
  /** The RPC URL pages read the chain from themselves. */
  publicRpcUrl: string;
  provers: readonly string[];
  labels: ReadonlyMap<string, string>;
  statsLeaves: number;
}

const idParams = { type: "object", additionalProperties: false, required: ["id"], properties: { id: { type: "string", pattern: "^[0-9]{1,20}$" } } } as const;
const addressParams = { type: "object", additionalProperties: false, required: ["address"], properties: { address: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } } } as const;
const rootParams = { type: "object", additionalProperties: false, required: ["root"], properties: { root: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } } } as const;
const pageQuery = {
  type: "object",
  additionalProperties: false,
  properties: { limit: { type: "string", pattern: "^([1-9]|[1-9][0-9]|1[0-9][0-9]|200)$" }, before: { type: "string", pattern: "^[0-9]{1,20}$" } },
} as const;
const emptyQuery = { type: "object", additionalProperties: false, properties: {} } as const;
const listOf = (items: unknown) => ({ type: "object", additionalProperties: false, required: ["data"], properties: { data: { type: "array", items } } }) as const;
const pageOf = (items: unknown) =>
  ({ type: "object", additionalProperties: false, required: ["data", "has_more"], properties: { data: { type: "array", items }, has_more: { type: "boolean" } } }) as const;

function notFound(reply: FastifyReply, message: string, field: string) {
  return reply.code(404).send({ error: { message, field } });
}

export const apiRoutes: FastifyPluginAsync<ApiOptions> = async (app, options) => {
  const { history, deployment } = options;

  app.get("/overview", { schema: { querystring: emptyQuery, response: { 200: overviewSchema } } }, async () => {
    const batches = history.batches();
    const count = (standing: string) => batches.filter((b) => b.standing === standing).length;
    const c = deployment.config;
    return {
      chainId: deployment.chainId,
      mode: deployment.mode,
      rpcUrl: options.publicRpcUrl,
      contracts: { batchManager: deployment.contracts.batchManager.address, registry: deployment.contracts.registry.address, stakeToken: deployment.contracts.stakeToken.address },
      head: { number: history.head.number.toString(), timestamp: history.head.timestamp.toString() },
      config: {
        attestThresholdBps: c.attestThresholdBps, voteThresholdBps: c.voteThresholdBps, responseWindow: c.responseWindow, challengeWindow: c.challengeWindow,
        votingWindow: c.votingWindow, proverSlashBps: c.proverSlashBps, operatorSlashBps: c.operatorSlashBps, disputeBond: c.disputeBond,
        minOperatorStake: c.minOperatorStake, minProverStake: c.minProverStake,
      },
      counts: {
        batches: batches.length, attested: count("attested"), finalized: count("finalized"), pending: count("pending"), disputed: count("disputed"),
        slashed: count("slashed"), expired: count("expired"), disputes: history.disputes().length, operators: history.members("operator").length,
        provers: history.members("prover").length, slashings: history.slashings().length,
      },
      // Which registered prover serves each data endpoint, as its batches' data URIs say.
      provers: options.provers.map((url) => {
        const origin = new URL(url).origin;
        const batch = batches.find((b) => b.dataURI.startsWith(`${origin}/`));
        return { url, account: batch?.prover ?? null };
      }),
      labels: Object.fromEntries(options.labels),
      statsLeaves: options.statsLeaves,
    };
  });

  app.get<{ Querystring: { limit?: string; before?: string } }>(
    "/batches",
    { schema: { querystring: pageQuery, response: { 200: pageOf(batchSummarySchema) } } },
    async (request) => {
      const limit = Number(request.query.limit ?? 50);
      const before = request.query.before === undefined ? undefined : BigInt(request.query.before);
      const all = history.batches().filter((b) => before === undefined || b.id < before);
      return { data: all.slice(0, limit).map(batchSummary), has_more: all.length > limit };
    },
  );

  app.get<{ Params: { id: string } }>("/batches/:id", { schema: { params: idParams, response: { 200: batchDetailSchema, 404: errorSchema } } }, async (request, reply) => {
    const batch = history.batch(BigInt(request.params.id));
    if (!batch) return notFound(reply, `no batch ${request.params.id} on chain (yet)`, "id");
    return batchDetail(batch, batch.disputeIds.map((id) => history.dispute(id)!).filter(Boolean));
  });

  app.get<{ Params: { id: string } }>("/batches/:id/stats", { schema: { params: idParams, response: { 200: statsSchema, 404: errorSchema } } }, async (request, reply) => {
    const batch = history.batch(BigInt(request.params.id));
    if (!batch) return notFound(reply, `no batch ${request.params.id} on chain (yet)`, "id");
    return options.stats.forBatch(batch);
  });

  app.get<{ Params: { root: string } }>("/roots/:root", { schema: { params: rootParams, response: { 200: listOf(batchSummarySchema) } } }, async (request) => ({
    data: history.batchesWithRoot(request.params.root as Hex).map(batchSummary),
  }));

  app.get<{ Querystring: { limit?: string; before?: string } }>("/disputes", { schema: { querystring: pageQuery, response: { 200: pageOf(disputeSchema) } } }, async (request) => {
    const limit = Number(request.query.limit ?? 50);
    const before = request.query.before === undefined ? undefined : BigInt(request.query.before);
    const all = history.disputes().filter((d) => before === undefined || d.id < before);
    return { data: all.slice(0, limit).map(dispute), has_more: all.length > limit };
  });

  app.get<{ Params: { id: string } }>("/disputes/:id", { schema: { params: idParams, response: { 200: disputeSchema, 404: errorSchema } } }, async (request, reply) => {
    const d = history.dispute(BigInt(request.params.id));
    if (!d) return notFound(reply, `no dispute ${request.params.id} on chain (yet)`, "id");
    return dispute(d);
  });

  app.get("/slashings", { schema: { querystring: emptyQuery, response: { 200: listOf(slashSchema) } } }, async () => ({ data: history.slashings().map(slash) }));

  app.get("/operators", { schema: { querystring: emptyQuery, response: { 200: listOf(memberSchema) } } }, async () => ({
    data: history.members("operator").map((m) => member(m, 5)),
  }));

  app.get("/provers", { schema: { querystring: emptyQuery, response: { 200: listOf(memberSchema) } } }, async () => ({
    data: history.members("prover").map((m) => member(m, 5)),
  }));

  app.get<{ Params: { address: string } }>("/members/:address", { schema: { params: addressParams, response: { 200: memberSchema, 404: errorSchema } } }, async (request, reply) => {
    const m = history.member(request.params.address as Address) ?? history.memberOfKey(request.params.address as Address);
    if (!m) return notFound(reply, `${request.params.address} is neither a member's account nor a member's signing key`, "address");
    return member(m, 100);
  });
};
