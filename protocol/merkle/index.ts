export * from "./errors.ts";
export * from "./bytes32.ts";
export * from "./leaf.ts";
export * from "./tree.ts";
export * from "./reference.ts";
