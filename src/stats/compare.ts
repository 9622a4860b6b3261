/**
 * Comparisons between trials on the items they share, as written to `comparison.json`: the mean
 * difference with a paired bootstrap CI, an exact McNemar test for pass/fail values or a paired
 * permutation test otherwise, and Holm-adjusted p-values across all comparisons of an experiment.
 * Every difference is **B minus A**.
 */
import { mean } from "./mean.js";
import { holm, mcnemarExact, pairedBootstrapCI, pairedPermutationTest } from "./paired.js";

/** One trial's per-item values (e.g. mean score per dataset `id`), keyed by item id. */
export type ItemValues = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

/** Options shared by {@link comparePaired} and {@link compareAll}. */
export interface CompareOptions {
  /**
   * `true`: values are pass/fail (0/1) and McNemar is used (throws if a value is not 0 or 1);
   * `false`: always the permutation test. Default: McNemar exactly when every value of both
   * trials (shared or not) is 0 or 1.
   */
  binary?: boolean;
  /** Significance level, in (0, 1). Default 0.05. */
  alpha?: number;
  /** Coverage of the bootstrap CI. Default `1 − alpha`. */
  confidence?: number;
  /** Bootstrap resamples, and Monte Carlo sign flips when the permutation test is not exact. Default 10 000. */
  iterations?: number;
  /** Seed of both resampling procedures. Default 0. */
  seed?: number;
}

/** Input of {@link comparePaired}: trial A and trial B. */
export interface ComparePairedInput extends CompareOptions {
  a: ItemValues;
  b: ItemValues;
}

/** Fields of every comparison; snake_case because they are written to JSON. */
export interface ComparisonFields {
  /** Items present in both trials; the only ones compared. */
  n_shared: number;
  /** Items only in A / only in B (ignored; reported so a mismatch is visible). */
  n_only_a: number;
  n_only_b: number;
  /** Means over the shared items (`NaN` when none). */
  mean_a: number;
  mean_b: number;
  /** Mean of the per-item differences B − A (= mean_b − mean_a up to rounding). */
  diff: number;
  /** Paired percentile-bootstrap CI of `diff` at `confidence`. */
  ci_low: number;
  ci_high: number;
  confidence: number;
  /** Unadjusted two-sided p-value of the chosen test. */
  p_value: number;
  /** Holm-adjusted p-value across the comparisons computed together (= p_value for a single one). */
  p_adjusted: number;
  alpha: number;
  /** `p_adjusted < alpha`. */
  significant: boolean;
}

/** Exact McNemar test on pass/fail values; b01 = A failed and B passed, b10 = the reverse. */
export interface McNemarComparison extends ComparisonFields {
  test: "mcnemar";
  b01: number;
  b10: number;
}

/** Paired sign-flip permutation test; `permutation_method` tells whether p is exact. */
export interface PermutationComparison extends ComparisonFields {
  test: "permutation";
  permutation_method: "exact" | "monte_carlo";
}

/** The result of comparing trial B with trial A. */
export type PairedComparison = McNemarComparison | PermutationComparison;

/** One row of {@link compareAll}: trial B (`trial_b`) compared with trial A (`trial_a`). */
export type TrialComparison = PairedComparison & { trial_a: string; trial_b: string };

/**
 * Compares trial B with trial A on their shared item ids (ids sorted, so the result does not
 * depend on insertion order): means, the mean difference `diff = mean(bᵢ − aᵢ)` with its paired
 * percentile-bootstrap CI ({@link pairedBootstrapCI}), and a two-sided test of "no difference" —
 * exact McNemar ({@link mcnemarExact}) when the values are pass/fail (see `binary`), otherwise the
 * paired permutation test ({@link pairedPermutationTest}). For one comparison Holm's adjustment is
 * the identity, so `p_adjusted = p_value` and `significant = p_value < alpha`; use
 * {@link compareAll} for several. No shared items gives NaN means/CI and p = 1.
 *
 * Throws a `RangeError` for a non-finite value, a non-0/1 value with `binary: true`, or invalid options.
 *
 * @example
 * comparePaired({ a: { q1: 0, q2: 1, q3: 0 }, b: { q1: 1, q2: 1, q3: 1 }, seed: 1 });
 * // { test: "mcnemar", b01: 2, b10: 0, n_shared: 3, diff: 0.666…, p_value: 0.5, significant: false, … }
 */
export function comparePaired(input: ComparePairedInput): PairedComparison {
  return compareTrials(toTrial(input.a, "a"), toTrial(input.b, "b"), input);
}

/**
 * Every pairwise comparison of the given trials, `trials[j]` (B) against `trials[i]` (A) for all
 * i < j, each as {@link comparePaired} with the same options and seed (so a pair's CI and p-value do
 * not depend on which other trials are present). Then Holm's step-down adjustment ({@link holm})
 * across all k(k−1)/2 comparisons sets `p_adjusted`, and `significant = p_adjusted < alpha`
 * (family-wise error rate ≤ alpha). Throws a `RangeError` for duplicate trial names.
 *
 * @example
 * compareAll([{ name: "base", values: baseScores }, { name: "tuned", values: tunedScores }], { seed: 0 });
 * // [{ trial_a: "base", trial_b: "tuned", diff, ci_low, ci_high, test, p_value, p_adjusted, significant, … }]
 */
export function compareAll(
  trials: readonly { name: string; values: ItemValues }[],
  options: CompareOptions = {},
): TrialComparison[] {
  return comparePairs(trials, allPairs(trials.length), options);
}

/** Every pair `[i, j]`, i < j, of `n` trials. */
export function allPairs(n: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([i, j]);
  return pairs;
}

/**
 * The chosen comparisons `[a, b]` (indices into `trials`; B against A), each as
 * {@link comparePaired}, Holm-adjusted across them. Memory and output grow with the number of
 * pairs: pass {@link baselinePairs} for many trials rather than every pair.
 */
export function comparePairs(
  trials: readonly { name: string; values: ItemValues }[],
  pairs: readonly (readonly [number, number])[],
  options: CompareOptions = {},
): TrialComparison[] {
  const names = new Set<string>();
  for (const { name } of trials) {
    if (names.has(name)) throw new RangeError(`duplicate trial name "${name}"`);
    names.add(name);
  }
  const prepared = trials.map(({ name, values }) => toTrial(values, name));
  const rows: TrialComparison[] = [];
  for (const [i, j] of pairs) {
    const a = prepared[i];
    const b = prepared[j];
    if (!a || !b || i === j) throw new RangeError(`no comparison of trials ${i} and ${j}`);
    rows.push({ trial_a: a.name, trial_b: b.name, ...compareTrials(a, b, options) });
  }
  const adjusted = holm(rows.map((row) => row.p_value));
  return rows.map((row, index) => {
    const p_adjusted = adjusted[index]!;
    return { ...row, p_adjusted, significant: p_adjusted < row.alpha };
  });
}

/**
 * Comparisons against a baseline, for sweeps of many trials (k − 1 pairs, not k(k−1)/2): each
 * trial of another model against the baseline model's trial of the same group (prompt set); the
 * baseline model's other groups against its first group; a trial whose group the baseline model
 * lacks, against the very first baseline trial. `baseline` is a model name; default: the first
 * trial's model. Returns `[a, b]` index pairs (A = the baseline side) for {@link comparePairs}.
 *
 * @example
 * baselinePairs([{ model: "m1", group: "p" }, { model: "m2", group: "p" }]); // [[0, 1]]
 */
export function baselinePairs(
  trials: readonly { model: string; group: string }[],
  baseline?: string,
): [number, number][] {
  const model = baseline ?? trials[0]?.model;
  const own = new Map<string, number>();
  trials.forEach((t, i) => {
    if (t.model === model && !own.has(t.group)) own.set(t.group, i);
  });
  const first = [...own.values()][0];
  if (first === undefined) return [];
  const pairs: [number, number][] = [];
  trials.forEach((t, i) => {
    if (i === first) return;
    const a = t.model === model ? first : (own.get(t.group) ?? first);
    pairs.push([a, i]);
  });
  return pairs;
}

// ---------------------------------------------------------------------------------------------
// internal helpers

/** A trial's values as a Map, checked once, and whether they are all 0/1. */
interface PreparedTrial {
  name: string;
  values: ReadonlyMap<string, number>;
  binary: boolean;
}

function toTrial(values: ItemValues, name: string): PreparedTrial {
  const map = values instanceof Map ? values : new Map(Object.entries(values));
  let binary = true;
  for (const [id, v] of map) {
    if (!Number.isFinite(v)) {
      throw new RangeError(`trial "${name}", item "${id}": value must be finite, got ${v}`);
    }
    if (v !== 0 && v !== 1) binary = false;
  }
  return { name, values: map, binary };
}

function compareTrials(
  trialA: PreparedTrial,
  trialB: PreparedTrial,
  options: CompareOptions,
): PairedComparison {
  const { alpha = 0.05, iterations = 10_000, seed = 0 } = options;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  const confidence = options.confidence ?? 1 - alpha;
  if (options.binary === true && !(trialA.binary && trialB.binary)) {
    const offender = trialA.binary ? trialB.name : trialA.name;
    throw new RangeError(`binary is true but trial "${offender}" has values other than 0 and 1`);
  }
  const binary = options.binary ?? (trialA.binary && trialB.binary);
  const aMap = trialA.values;
  const bMap = trialB.values;

  const ids = [...aMap.keys()].filter((id) => bMap.has(id)).sort();
  const a = Float64Array.from(ids, (id) => aMap.get(id)!);
  const b = Float64Array.from(ids, (id) => bMap.get(id)!);
  const ci = pairedBootstrapCI(a, b, { iterations, confidence, seed });
  const fields = {
    n_shared: ids.length,
    n_only_a: aMap.size - ids.length,
    n_only_b: bMap.size - ids.length,
    mean_a: mean(a),
    mean_b: mean(b),
    diff: ci.mean,
    ci_low: ci.low,
    ci_high: ci.high,
    confidence,
    alpha,
  };

  if (binary) {
    const test = mcnemarExact(
      Array.from(a, (v) => v === 1),
      Array.from(b, (v) => v === 1),
    );
    return {
      ...fields,
      ...significance(test.p_value, alpha),
      test: "mcnemar",
      b01: test.b01,
      b10: test.b10,
    };
  }
  const test = pairedPermutationTest(a, b, { iterations, seed });
  return {
    ...fields,
    ...significance(test.p_value, alpha),
    test: "permutation",
    permutation_method: test.method,
  };
}

function significance(
  p_value: number,
  alpha: number,
): Pick<ComparisonFields, "p_value" | "p_adjusted" | "significant"> {
  return { p_value, p_adjusted: p_value, significant: p_value < alpha };
}
