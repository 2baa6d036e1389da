/**
 * The data endpoint operators read: closed batches, each leaf with its Merkle proof, and any
 * record by id (also before its batch closes). With a chain configured, each committed batch
 * carries its on-chain state. The data is public by design (operators and users must be able to
 * re-check it), so any web page may read it: the explorer's in-browser check does.
 */
import type { FastifyPluginAsync } from "fastify";
import type { ProofStore, StoredBatch } from "../../store/index.ts";
import type { OnchainBatchStates } from "../../batch/onchain-state.ts";
import { internalError, notFound } from "../errors.ts";
import { batchJson, leafJson, recordJson } from "../data-wire.ts";
import { batchIdParamsSchema, leafParamsSchema, listBatchesQuerySchema, recordParamsSchema } from "../schemas.ts";

export interface DataRoutesOptions {
  store: ProofStore;
  onchainStates?: OnchainBatchStates;
}

const DEFAULT_PAGE = 20;

export const dataRoutes: FastifyPluginAsync<DataRoutesOptions> = async (app, { store, onchainStates }) => {
  // Simple GETs: a wildcard origin is all a browser needs (no credentials, no preflight).
  app.addHook("onSend", async (_request, reply) => {
    reply.header("access-control-allow-origin", "*");
  });
  const withOnchain = async (batch: StoredBatch) => {
    const onchain = onchainStates ? await onchainStates.of(batch) : undefined;
    return { ...batchJson(batch), onchain: onchain ? { batch_id: onchain.batchId, state: onchain.state, ...(onchain.error ? { error: onchain.error } : {}) } : null };
  };
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
      const data = await Promise.all(page.slice(0, limit).map(withOnchain));
      return { object: "list", data, has_more: page.length > limit, last_id: data.length ? page[data.length - 1]!.id : null };
    },
  );

  app.get<{ Params: { id: string } }>("/v1/batches/:id", { schema: { params: batchIdParamsSchema } }, async (request) =>
    withOnchain(await loadBatch(request.params.id)),
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
