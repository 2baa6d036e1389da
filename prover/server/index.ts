export * from "./app.ts";
export * from "./errors.ts";
export * from "./engine-queue.ts";
export { PROOF_RECORD_HEADER } from "./serve-completion.ts";
