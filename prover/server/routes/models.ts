/** GET /v1/models and /v1/models/:model: the one model this prover serves. */
import type { FastifyPluginAsync } from "fastify";
import type { EngineInfoLike } from "../../inference-engine.ts";
import { modelNotFound } from "../errors.ts";
import { emptyQuerySchema, modelParamsSchema } from "../schemas.ts";

export interface ModelRoutesOptions {
  info: EngineInfoLike;
  /** Unix seconds the server started (OpenAI's `created` of a model). */
  created: number;
}

export const modelRoutes: FastifyPluginAsync<ModelRoutesOptions> = async (app, { info, created }) => {
  const model = () => ({
    id: info.modelId,
    object: "model",
    created,
    owned_by: "prover",
    weights_hash: info.weightsHash,
    max_context: info.maxContext,
    toploc: { topk: info.toploc.topk, decode_batch_size: info.toploc.decodeBatchSize, skip_prefill: info.toploc.skipPrefill },
  });
  app.get("/v1/models", { schema: { querystring: emptyQuerySchema } }, async () => ({ object: "list", data: [model()] }));
  app.get<{ Params: { model: string } }>("/v1/models/:model", { schema: { params: modelParamsSchema } }, async (request) => {
    if (request.params.model !== info.modelId) throw modelNotFound(request.params.model);
    return model();
  });
};
