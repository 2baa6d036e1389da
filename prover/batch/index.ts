export * from "./batcher.ts";
export * from "./committer.ts";
export * from "./errors.ts";
export * from "./manifest.ts";
