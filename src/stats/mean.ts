/**
 * Summary statistics of one sample and its percentile-bootstrap confidence interval.
 *
 * Conventions for degenerate input, everywhere in this folder: a statistic that is undefined for
 * the data (the mean of nothing, the variance of one value) is `NaN`, never a thrown error and never
 * a made-up 0. `JSON.stringify` writes `NaN` as `null`.
 */
import { createUint32Source } from "./random.js";

/** Options of {@link bootstrapCI} and {@link pairedBootstrapCI}. */
export interface BootstrapOptions {
  /** Number of bootstrap resamples B. Default 10 000. */
  iterations?: number;
  /** Two-sided coverage of the interval, in (0, 1). Default 0.95. */
  confidence?: number;
  /** Seed of the resampling generator (see `createRng`). Default 0. */
  seed?: number;
}

/** A point estimate with its bootstrap interval; field names are stable JSON keys. */
export interface BootstrapCI {
  /** The statistic on the original data (here: the sample mean). */
  mean: number;
  /** Lower end: the (1 − confidence)/2 quantile of the resampled means. */
  low: number;
  /** Upper end: the (1 + confidence)/2 quantile of the resampled means. */
  high: number;
  iterations: number;
  confidence: number;
}

/** Arithmetic mean `x̄ = (1/n) Σ xᵢ`; `NaN` for an empty sample. */
export function mean(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  return sum / n;
}

/**
 * Unbiased sample variance `s² = Σ (xᵢ − x̄)² / (n − 1)` (Bessel's correction), computed in two
 * passes (mean first, then squared deviations) for numerical stability; `NaN` when n < 2.
 */
export function variance(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return Number.NaN;
  const m = mean(values);
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i]! - m;
    squares += d * d;
  }
  return squares / (n - 1);
}

/** Standard error of the mean `s / √n` with `s²` from {@link variance}; `NaN` when n < 2. */
export function stderr(values: ArrayLike<number>): number {
  return Math.sqrt(variance(values) / values.length);
}

/**
 * Percentile bootstrap confidence interval of the mean (Efron & Tibshirani, "An Introduction to the
 * Bootstrap", 1993, ch. 13): draw B resamples of size n with replacement, take each resample's
 * mean, and report the `(1 − confidence)/2` and `(1 + confidence)/2` quantiles of those B means.
 * Quantiles interpolate linearly between order statistics (Hyndman & Fan 1996 type 7, the default
 * of R and NumPy): `q(p) = x₍ⱼ₎ + (h − j)(x₍ⱼ₊₁₎ − x₍ⱼ₎)` with `h = (B − 1)p`, `j = ⌊h⌋`, 0-based.
 *
 * Deterministic for a given `seed`. Edge cases: an empty sample gives `mean = low = high = NaN`;
 * a constant sample (including n = 1) gives `low = high = mean` without resampling. Throws a
 * `RangeError` for non-finite values or invalid options.
 *
 * Cost: O(B·n) time with one `Float64Array(B)` allocated (and a copy of `values` unless it is a
 * `Float64Array`, which is only read), nothing per resample.
 *
 * @example
 * bootstrapCI([0, 1, 1, 0, 1], { seed: 7 }); // { mean: 0.6, low: 0.2, high: 1, iterations: 10000, confidence: 0.95 }
 */
export function bootstrapCI(values: ArrayLike<number>, options: BootstrapOptions = {}): BootstrapCI {
  const { iterations = 10_000, confidence = 0.95, seed = 0 } = options;
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  }
  const n = values.length;
  // Read only: a Float64Array given is used as it is (a million means are not copied).
  const data = values instanceof Float64Array ? values : Float64Array.from(values);
  for (const v of data) {
    if (!Number.isFinite(v)) throw new RangeError(`bootstrapCI needs finite values, got ${v}`);
  }
  const m = mean(data);
  if (n === 0 || isConstant(data)) return { mean: m, low: m, high: m, iterations, confidence };

  const next = createUint32Source(seed);
  const toIndex = n / 2 ** 32; // uint32 → uniform index in [0, n); n < 2^31 for any real array
  const means = new Float64Array(iterations);
  for (let b = 0; b < iterations; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += data[(next() * toIndex) | 0]!;
    means[b] = sum / n;
  }
  means.sort();
  const tail = (1 - confidence) / 2;
  return {
    mean: m,
    low: quantileSorted(means, tail),
    high: quantileSorted(means, 1 - tail),
    iterations,
    confidence,
  };
}

/**
 * The p-quantile (0 ≤ p ≤ 1) of an ascending, non-empty array by linear interpolation between order
 * statistics (Hyndman & Fan 1996, type 7): `x₍ⱼ₎ + (h − j)(x₍ⱼ₊₁₎ − x₍ⱼ₎)`, `h = (n − 1)p`, `j = ⌊h⌋`.
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const h = (sorted.length - 1) * p;
  const j = Math.floor(h);
  const lo = sorted[j]!;
  const hi = sorted[Math.min(j + 1, sorted.length - 1)]!;
  return lo + (h - j) * (hi - lo);
}

// ---------------------------------------------------------------------------------------------
// internal helpers

function isConstant(data: Float64Array): boolean {
  const first = data[0];
  for (const v of data) if (v !== first) return false;
  return true;
}
