/**
 * Paired comparisons of two trials on the items they share: `a[i]` and `b[i]` are the two trials'
 * values on the same item i. Every difference is **B minus A** (`b[i] − a[i]`), so a positive
 * difference means trial B scored higher.
 */
import { type BootstrapCI, type BootstrapOptions, bootstrapCI, mean } from "./mean.js";
import { createUint32Source } from "./random.js";

/** Result of {@link mcnemarExact}; field names are stable JSON keys. */
export interface McNemarResult {
  /** Pairs where A failed and B passed. */
  b01: number;
  /** Pairs where A passed and B failed. */
  b10: number;
  /** All pairs, concordant ones included. */
  n: number;
  /** Exact two-sided p-value. */
  p_value: number;
}

/** Options of {@link pairedPermutationTest}. */
export interface PermutationOptions {
  /** Random sign-flip assignments drawn in the Monte Carlo case. Default 10 000. */
  iterations?: number;
  /** Seed of the sign generator (see `createRng`). Default 0. */
  seed?: number;
  /** Enumerate all 2^m sign assignments when there are m ≤ maxExact non-zero differences (0..24). Default 16. */
  maxExact?: number;
}

/** Result of {@link pairedPermutationTest}; field names are stable JSON keys. */
export interface PermutationResult {
  /** Mean of `b[i] − a[i]` over all pairs (`NaN` when there are none). */
  mean_diff: number;
  /** Two-sided p-value. */
  p_value: number;
  /** `"exact"`: all 2^m sign assignments enumerated; `"monte_carlo"`: `iterations` random ones. */
  method: "exact" | "monte_carlo";
  /** Number m of non-zero differences (zero differences do not change under a sign flip). */
  n_nonzero: number;
  /** Sign assignments evaluated: 2^m, or the Monte Carlo iterations. */
  permutations: number;
}

/**
 * Percentile bootstrap CI of the mean paired difference `mean(b − a)` ("B minus A"): resamples
 * items (pairs), which keeps each item's two values together, then proceeds as {@link bootstrapCI}
 * on the differences `dᵢ = b[i] − a[i]` (Efron & Tibshirani 1993). The returned `mean` is the
 * observed mean difference. Throws a `RangeError` when the lengths differ.
 */
export function pairedBootstrapCI(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: BootstrapOptions = {},
): BootstrapCI {
  return bootstrapCI(differences(a, b), options);
}

/**
 * Exact McNemar test (McNemar 1947, exact binomial form; see Fagerland, Lydersen & Laake, "The
 * McNemar test for binary matched-pairs data", BMC Med Res Methodol 2013) for paired pass/fail
 * outcomes. Only discordant pairs carry information: `b01` (A fails, B passes) and `b10` (A passes,
 * B fails). Under H₀ (both trials equally likely to pass) `b01 ~ Bin(b01 + b10, 1/2)`, and
 *
 *   p = min(1, 2 · P[X ≤ min(b01, b10)]),  X ~ Bin(b01 + b10, 1/2);
 *
 * with no discordant pairs p = 1. Throws a `RangeError` when the lengths differ.
 *
 * @example
 * mcnemarExact([true, true, true, true, true, true], [false, false, false, false, false, false]);
 * // { b01: 0, b10: 6, n: 6, p_value: 0.03125 }  (2 · (1/2)^6)
 */
export function mcnemarExact(a: ArrayLike<boolean>, b: ArrayLike<boolean>): McNemarResult {
  assertSameLength(a, b);
  let b01 = 0;
  let b10 = 0;
  for (let i = 0; i < a.length; i++) {
    if (!a[i] && b[i]) b01++;
    else if (a[i] && !b[i]) b10++;
  }
  const discordant = b01 + b10;
  const p_value = discordant === 0 ? 1 : Math.min(1, 2 * binomialCdfHalf(Math.min(b01, b10), discordant));
  return { b01, b10, n: a.length, p_value };
}

/**
 * Paired permutation (sign-flip) test of H₀: the paired differences `dᵢ = b[i] − a[i]` are
 * symmetric about 0 (Fisher 1935; Good, "Permutation, Parametric and Bootstrap Tests of
 * Hypotheses", 2005, §3.1). Statistic `T = |Σ dᵢ|`; two-sided
 *
 *   p = #{sign vectors s : |Σ sᵢdᵢ| ≥ T} / #{sign vectors evaluated}.
 *
 * Zero differences are left out (flipping them changes nothing), leaving m non-zero ones. When
 * m ≤ `maxExact` (default 16) all 2^m sign vectors are enumerated and p is exact; otherwise
 * `iterations` random sign vectors are drawn (seeded) and `p = (count + 1) / (iterations + 1)`,
 * counting the observed assignment once so p is never 0 (Phipson & Smyth, "Permutation p-values
 * should never be zero", 2010). Sums within the worst-case floating-point summation error
 * (`m · ε · Σ|dᵢ|`) of T count as ties, i.e. as extreme. No non-zero differences (or no pairs)
 * gives p = 1. Throws a `RangeError` when the lengths differ or a value is not finite.
 *
 * @example
 * pairedPermutationTest([0, 0, 0], [1, 2, 3]).p_value; // 2/8 = 0.25: only ±(1+2+3) reach |6|
 */
export function pairedPermutationTest(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: PermutationOptions = {},
): PermutationResult {
  const { iterations = 10_000, seed = 0, maxExact = 16 } = options;
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  }
  if (!Number.isSafeInteger(maxExact) || maxExact < 0 || maxExact > 24) {
    throw new RangeError(`maxExact must be an integer in [0, 24], got ${maxExact}`);
  }
  const all = differences(a, b);
  const mean_diff = mean(all);
  const nonzero = all.filter((d) => d !== 0);
  const m = nonzero.length;
  if (m === 0) return { mean_diff, p_value: 1, method: "exact", n_nonzero: 0, permutations: 1 };

  let observed = 0;
  let sumAbs = 0;
  for (const d of nonzero) {
    observed += d;
    sumAbs += Math.abs(d);
  }
  const threshold = Math.abs(observed) - m * Number.EPSILON * sumAbs;

  if (m <= maxExact) {
    const total = 2 ** m;
    let count = 0;
    for (let mask = 0; mask < total; mask++) {
      let sum = 0;
      for (let j = 0; j < m; j++) sum += (mask >>> j) & 1 ? -nonzero[j]! : nonzero[j]!;
      if (Math.abs(sum) >= threshold) count++;
    }
    return { mean_diff, p_value: count / total, method: "exact", n_nonzero: m, permutations: total };
  }

  const next = createUint32Source(seed);
  let count = 0;
  for (let it = 0; it < iterations; it++) {
    let sum = 0;
    let bits = 0;
    for (let j = 0; j < m; j++) {
      if ((j & 31) === 0) bits = next();
      sum += bits & 1 ? -nonzero[j]! : nonzero[j]!;
      bits >>>= 1;
    }
    if (Math.abs(sum) >= threshold) count++;
  }
  return {
    mean_diff,
    p_value: (count + 1) / (iterations + 1),
    method: "monte_carlo",
    n_nonzero: m,
    permutations: iterations,
  };
}

/**
 * Holm's step-down adjustment for multiple comparisons (Holm, "A simple sequentially rejective
 * multiple test procedure", Scand. J. Statist. 1979), controlling the family-wise error rate. With
 * the m p-values sorted ascending `p₍₁₎ ≤ … ≤ p₍ₘ₎`:
 *
 *   p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1) · p₍ⱼ₎)
 *
 * (the running max keeps the adjusted values monotone). Returned in input order; same result as
 * R's `p.adjust(p, "holm")`. Throws a `RangeError` for a value outside [0, 1] (or `NaN`).
 *
 * @example
 * holm([0.01, 0.04, 0.03, 0.005]); // [0.03, 0.06, 0.06, 0.02]
 */
export function holm(pValues: readonly number[]): number[] {
  const m = pValues.length;
  for (const p of pValues) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`p-values must be in [0, 1], got ${p}`);
  }
  const order = pValues.map((_, i) => i).sort((i, j) => pValues[i]! - pValues[j]!);
  const adjusted = new Array<number>(m);
  let running = 0;
  for (const [rank, index] of order.entries()) {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[index]!));
    adjusted[index] = running;
  }
  return adjusted;
}

/**
 * `P[X ≤ x]` for `X ~ Bin(m, 1/2)`, exact up to floating-point rounding: `Σ_{i ≤ x} C(m, i) / 2^m`.
 * Summed in linear space from `2^−m` while that is a normal double (m ≤ 1000), else anchored at the
 * largest term `C(m, x)/2^m`, computed in log space, and summed downward by term ratios.
 */
export function binomialCdfHalf(x: number, m: number): number {
  if (!Number.isSafeInteger(m) || m < 0) throw new RangeError(`m must be an integer ≥ 0, got ${m}`);
  const k = Math.floor(x);
  if (k < 0) return 0;
  if (k >= m) return 1;
  // Sum the shorter, lower tail: P[X ≤ k] = 1 − P[X ≤ m − k − 1] by symmetry.
  if (2 * k > m) return 1 - binomialCdfHalf(m - k - 1, m);

  if (m <= 1000) {
    let term = 2 ** -m; // exact: a power of two
    let sum = term;
    for (let i = 0; i < k; i++) {
      term *= (m - i) / (i + 1);
      sum += term;
    }
    return sum;
  }
  // log(C(m, k) / 2^m), the largest term of the sum; Neumaier-compensated so that the rounding of
  // up to m/2 log terms does not accumulate.
  let logTop = -m * Math.LN2;
  let compensation = 0;
  for (let i = 0; i < k; i++) {
    const term = Math.log((m - i) / (i + 1));
    const total = logTop + term;
    compensation += Math.abs(logTop) >= Math.abs(term) ? logTop - total + term : term - total + logTop;
    logTop = total;
  }
  logTop += compensation;
  let relative = 1;
  let sum = 1;
  for (let i = k; i > 0; i--) {
    relative *= i / (m - i + 1); // term(i − 1) / term(i)
    sum += relative;
    if (relative < Number.EPSILON * sum) break;
  }
  return Math.exp(logTop) * sum;
}

// ---------------------------------------------------------------------------------------------
// internal helpers

/** `b[i] − a[i]` for every pair, after checking both arrays have the same length and finite values. */
function differences(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  assertSameLength(a, b);
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const d = b[i]! - a[i]!;
    if (!Number.isFinite(d)) throw new RangeError(`paired values must be finite, got a=${a[i]}, b=${b[i]}`);
    out[i] = d;
  }
  return out;
}

function assertSameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) {
    throw new RangeError(`paired samples need equal lengths, got ${a.length} and ${b.length}`);
  }
}
