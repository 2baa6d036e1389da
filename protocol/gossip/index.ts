export * from "./errors.ts";
export * from "./identity.ts";
export * from "./mesh.ts";
export * from "./messages.ts";
