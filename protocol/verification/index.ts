export * from "./errors.ts";
export { chunkEvidence, requestEvidence, DEFAULT_GARBAGE_ULPS, type ChunkEvidence, type EvidenceInput, type RequestEvidence } from "./evidence.ts";
export { requestStatistics, STATISTICS, type RequestStatistics, type StatisticName } from "./statistics.ts";
export * from "./tails.ts";
export * from "./profile.ts";
export { judgeRequest, judgeByReference, thresholdFor, type RequestVerdict, type StatisticVerdict } from "./decision.ts";
export { loadProfile } from "./load.ts";
