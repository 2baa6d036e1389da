/**
 * The tail models behind a profile's thresholds: how an honest request's statistic is
 * distributed, so that a threshold can be set at a stated false-rejection probability for a
 * request of any size.
 *
 * Activation statistics (garbage_rate, sq_error): a Gaussian random-effects model on chunk
 * values. A request's value is the mean of its n chunks' values; each chunk value is
 * mu + b + e with a per-request effect b ~ N(0, between^2) (the prompt) and a per-chunk
 * effect e ~ N(0, within^2). The request value is then N(mu, between^2 + within^2 / n), and
 * the threshold at false-rejection probability alpha is mu + z(alpha) * sqrt(between^2 + within^2 / n).
 *
 * Token statistics (token_max_margin, token_divergence): each token's margin is 0 with
 * probability 1 - p0 and otherwise exponential with mean beta (heavier-tailed than the
 * near-tie noise it models). For T tokens:
 *   P(max > x) <= T * p0 * exp(-x / beta)
 *   P(sum > s)  = sum over n >= 1 of Binomial(n; T, p0) * P(Gamma(n, beta) > s)
 *
 * Fitting inflates every estimate to its 99% upper confidence bound, so that a calibration
 * run of 64 requests does not understate the spread it measured.
 */

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Chi-square quantile (Wilson-Hilferty), accurate to a few percent for k >= 2. */
export function chiSquareQuantile(p: number, k: number): number {
  const z = normalQuantile(p);
  const h = 2 / (9 * k);
  return Math.max(0, k * (1 - h + z * Math.sqrt(h)) ** 3);
}

/** ln Gamma(x) for x > 0 (Lanczos, g = 7). */
export function logGamma(x: number): number {
  const g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = g[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += g[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** One honest variant's random-effects band for an activation statistic. */
export interface ChunkBand {
  mu: number;
  between: number;
  within: number;
}

export function chunkThreshold(band: ChunkBand, chunks: number, alpha: number): number {
  const z = normalQuantile(1 - alpha);
  return band.mu + z * Math.sqrt(band.between ** 2 + band.within ** 2 / Math.max(1, chunks));
}

/**
 * Fits a band from requests' chunk values (each request: its chunks' values). Within-request
 * variance is pooled over chunks; between-request variance is what the request means vary by
 * beyond it. Both are raised to their 99% upper bounds.
 */
export function fitChunkBand(requests: readonly (readonly number[])[]): ChunkBand & { requests: number; chunks: number } {
  const R = requests.length;
  if (R < 2) throw new RangeError("a band needs at least two requests");
  let within = 0;
  let df = 0;
  const means: number[] = [];
  let chunks = 0;
  let invN = 0;
  for (const values of requests) {
    const m = values.reduce((a, b) => a + b, 0) / values.length;
    means.push(m);
    for (const v of values) within += (v - m) ** 2;
    df += values.length - 1;
    chunks += values.length;
    invN += 1 / values.length;
  }
  const withinVar = df > 0 ? within / df : 0;
  const withinUpper = df > 0 ? (withinVar * df) / chiSquareQuantile(0.01, df) : withinVar;
  const mu = means.reduce((a, b) => a + b, 0) / R;
  const meansVar = means.reduce((a, m) => a + (m - mu) ** 2, 0) / (R - 1);
  const meansUpper = (meansVar * (R - 1)) / chiSquareQuantile(0.01, R - 1);
  const betweenVar = Math.max(0, meansUpper - (withinVar * invN) / R);
  // The mean itself is uncertain by its standard error; carry its 99% bound into mu.
  const muUpper = mu + normalQuantile(0.99) * Math.sqrt(meansVar / R);
  return { mu: muUpper, between: Math.sqrt(betweenVar), within: Math.sqrt(withinUpper), requests: R, chunks };
}

/** One honest variant's token-margin model for one token mode. */
export interface TokenBand {
  /** Probability that a token's margin is positive. */
  p0: number;
  /** Mean of a positive margin. */
  beta: number;
}

export function maxMarginThreshold(band: TokenBand, tokens: number, alpha: number): number {
  const expected = band.p0 * Math.max(1, tokens);
  if (expected <= alpha) return 0;
  return band.beta * Math.log(expected / alpha);
}

/** P(sum of T margins > s) under the band's model. */
export function marginSumTail(band: TokenBand, tokens: number, s: number): number {
  const { p0, beta } = band;
  if (p0 <= 0) return 0;
  if (s <= 0) return 1 - (1 - p0) ** tokens;
  const y = s / beta;
  const logTerms = new Float64Array(tokens);
  let logFactorial = 0;
  for (let i = 0; i < tokens; i++) {
    if (i > 0) logFactorial += Math.log(i);
    logTerms[i] = i * Math.log(y) - logFactorial - y;
  }
  const logT = logGamma(tokens + 1);
  let total = 0;
  let cumulative = -Infinity;
  // Incremental: gammaTail(n) = gammaTail(n - 1) + e^{logTerms[n - 1]}.
  for (let n = 1; n <= tokens; n++) {
    const term = logTerms[n - 1]!;
    cumulative = cumulative === -Infinity ? term : Math.max(cumulative, term) + Math.log1p(Math.exp(-Math.abs(cumulative - term)));
    const logBinom = logT - logGamma(n + 1) - logGamma(tokens - n + 1) + n * Math.log(p0) + (tokens - n) * Math.log1p(-p0);
    total += Math.exp(logBinom + Math.min(0, cumulative));
  }
  return Math.min(1, total);
}

/** Threshold on the MEAN margin for T tokens: P(mean > threshold) <= alpha. */
export function divergenceThreshold(band: TokenBand, tokens: number, alpha: number): number {
  const T = Math.max(1, tokens);
  if (marginSumTail(band, T, 0) <= alpha) return 0;
  let lo = 0;
  let hi = band.beta * (10 + Math.log(1 / alpha)) * Math.max(1, band.p0 * T * 4);
  while (marginSumTail(band, T, hi) > alpha) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (marginSumTail(band, T, mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi / T;
}

/**
 * Fits p0 and beta from honest margins, each raised to its 99% upper bound (Poisson bound on
 * the count of positive margins; chi-square bound on an exponential mean). With fewer than
 * three positive margins, beta falls back to `fallbackBeta` (the logits' own bf16 resolution).
 */
export function fitTokenBand(margins: readonly number[], fallbackBeta: number): TokenBand & { tokens: number; positives: number } {
  const tokens = margins.length;
  if (tokens === 0) throw new RangeError("a token band needs margins");
  const positive = margins.filter((m) => m > 0);
  const x = positive.length;
  const p0 = Math.min(1, chiSquareQuantile(0.99, 2 * x + 2) / 2 / tokens);
  let beta = fallbackBeta;
  if (x >= 3) {
    const mean = positive.reduce((a, b) => a + b, 0) / x;
    beta = Math.max((2 * x * mean) / chiSquareQuantile(0.01, 2 * x), fallbackBeta / 4);
  }
  return { p0, beta, tokens, positives: x };
}
