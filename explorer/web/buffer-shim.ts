// Injected into the browser bundle: protocol/merkle's byte helpers use Node's Buffer.
export { Buffer } from "buffer";
