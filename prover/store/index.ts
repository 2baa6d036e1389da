export * from "./types.ts";
export * from "./errors.ts";
export * from "./proof-store.ts";
export * from "./inference-record.ts";
