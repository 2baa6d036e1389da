export * from "./errors.ts";
export * from "./versions.ts";
export { argmax, nucleus, nucleusSet, type Nucleus } from "./nucleus.ts";
export { gumbelNoise, chooseGumbel, gumbelMargin } from "./gumbel-v2.ts";
export { chooseUniform, uniformMargin, uniformStream } from "./uniform-v1.ts";
export { Xoshiro256, Xoshiro128FromState } from "./xoshiro.ts";
export { TokenSampler, judgeTokens, tokenMode, type SamplingSettings, type TokenJudgement, type TokenMode } from "./sampler.ts";
