/**
 * The request-level statistics a decision is made on, each a function of the whole request's
 * evidence (never of one chunk or one token alone):
 *
 *   garbage_rate       share of all top-k positions, over every chunk, that are garbage
 *   sq_error           mean squared error (bf16 ulps^2) of all close positions
 *   token_max_margin   the largest margin of any output token (an edited token stands out)
 *   token_divergence   the mean margin over output tokens (Token-DiFR's divergence score:
 *                      weights that are slightly off shift many near-ties a little)
 *
 * Larger is worse for all four.
 */
import type { TokenMode } from "../sampler/index.ts";
import type { RequestEvidence } from "./evidence.ts";

export const STATISTICS = ["garbage_rate", "sq_error", "token_max_margin", "token_divergence"] as const;
export type StatisticName = (typeof STATISTICS)[number];

export interface RequestStatistics {
  garbage_rate: number;
  sq_error: number;
  token_max_margin: number;
  token_divergence: number;
  /** Sizes the thresholds depend on. */
  chunks: number;
  tokens: number;
  mode: TokenMode;
  /** Where the largest margin is (-1 without output tokens). */
  worstToken: { position: number; margin: number };
}

export function requestStatistics(evidence: RequestEvidence): RequestStatistics {
  let k = 0;
  let garbage = 0;
  let close = 0;
  let sq = 0;
  for (const c of evidence.chunks) {
    k += c.k;
    garbage += c.garbage;
    close += c.close;
    sq += c.sqErrorSum;
  }
  const margins = evidence.tokens.margins;
  let max = 0;
  let at = -1;
  let sum = 0;
  for (let t = 0; t < margins.length; t++) {
    const m = margins[t]!;
    sum += m;
    if (m > max || at < 0) {
      max = m;
      at = t;
    }
  }
  return {
    garbage_rate: k === 0 ? 1 : garbage / k,
    // No close position at all: as far off as the garbage cut allows.
    sq_error: close === 0 ? Number.POSITIVE_INFINITY : sq / close,
    token_max_margin: max,
    token_divergence: margins.length === 0 ? 0 : sum / margins.length,
    chunks: evidence.chunks.length,
    tokens: margins.length,
    mode: evidence.tokens.mode,
    worstToken: { position: at, margin: max },
  };
}
