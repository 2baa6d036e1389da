/**
 * The data endpoint operators read: closed batches, each leaf with its Merkle proof, and any
 * record by id (also before its batch closes).
 */
import type { FastifyPluginAsync } from "fastify";
import type { ProofStore } from "../../store/index.ts";
import { internalError, notFound } from "../errors.ts";
import { batchJson, leafJson, recordJson } from "../data-wire.ts";
import { batchIdParamsSchema, leafParamsSchema, listBatchesQuerySchema, recordParamsSchema } from "../schemas.ts";

export interface DataRoutesOptions {
  store: ProofStore;
}

const DEFAULT_PAGE = 20;

export const dataRoutes: FastifyPluginAsync<DataRoutesOptions> = async (app, { store }) => {
  const loadBatch = async (id: string) => {
    const batch = await store.getBatch(Number(id));
    if (batch === undefined) throw notFound(`No batch with id ${id}.`, "id", "batch_not_found");
    return batch;
  };

  app.get<{ Querystring: { after?: string; limit?: string; order?: "asc" | "desc" } }>(
    "/v1/batches",
    { schema: { querystring: listBatchesQuerySchema } },
    async (request) => {
      const limit = request.query.limit === undefined ? DEFAULT_PAGE : Number(request.query.limit);
      const afterId = request.query.after === undefined ? undefined : Number(request.query.after);
      const newestFirst = request.query.order === "desc";
      // One extra tells whether another page follows.
      const page = await store.listBatches({ limit: limit + 1, newestFirst, ...(afterId !== undefined ? { afterId } : {}) });
      const data = page.slice(0, limit).map(batchJson);
      return { object: "list", data, has_more: page.length > limit, last_id: data.length ? page[data.length - 1]!.id : null };
    },
  );

  app.get<{ Params: { id: string } }>("/v1/batches/:id", { schema: { params: batchIdParamsSchema } }, async (request) =>
    batchJson(await loadBatch(request.params.id)),
  );

  app.get<{ Params: { id: string; index: string } }>(
    "/v1/batches/:id/leaves/:index",
    { schema: { params: leafParamsSchema } },
    async (request) => {
      const batch = await loadBatch(request.params.id);
      const index = Number(request.params.index);
      if (index >= batch.leafCount) {
        throw notFound(`No leaf ${index} in batch ${batch.id}: it has leaves 0..${batch.leafCount - 1}.`, "index", "leaf_not_found");
      }
      const leaf = await store.getLeaf(batch.id, index);
      const record = leaf === undefined ? undefined : await store.getRecord(leaf.recordId);
      // Written in the same atomic batch as the batch itself: absent means a damaged database.
      if (leaf === undefined || record === undefined) {
        request.log.error({ batch: batch.id, index }, "leaf or record missing from a stored batch");
        throw internalError();
      }
      return leafJson(batch, index, leaf, record);
    },
  );

  app.get<{ Params: { id: string } }>("/v1/records/:id", { schema: { params: recordParamsSchema } }, async (request) => {
    const record = await store.getRecord(request.params.id);
    if (record === undefined) throw notFound(`No proof record with id ${request.params.id}.`, "id", "record_not_found");
    return recordJson(record, await store.getRecordLocation(record.id));
  });
};
