export { digestFile, weightsHash, weightsManifest, WEIGHTS_MANIFEST_VERSION, type WeightsDigestInput, type WeightsFileDigest } from "./hash.ts";
