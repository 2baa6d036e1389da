export * from "./abis.ts";
export * from "./errors.ts";
export * from "./deployments.ts";
