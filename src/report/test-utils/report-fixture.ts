/**
 * A realistic `ExperimentReportData` from object literals: four trials of a qa task (two prompt
 * sets of a paid model, a local model that costs nothing, and an endpoint that only errored),
 * three categories (one with `&` in its name), and Holm-adjusted comparisons with exactly one
 * significant difference. Numbers are consistent with each other (means, costs, Holm).
 */
import type { TrialComparison } from "../../stats/index.js";
import { buildCosts, type ExperimentReportData } from "../experiment.js";
import type { TrialSummary } from "../summary.js";

/** A trial summary with 40 items × 3 samples, scored by `exact`; override any field. */
export function makeTrial(overrides: Partial<TrialSummary> & { trial: string }): TrialSummary {
  return {
    model: "openai:gpt-4o-mini",
    prompt_set: "cot",
    task: "qa",
    items: 40,
    samples_per_item: 3,
    predictions: { expected: 120, ok: 120, error: 0, missing: 0, cached: 0 },
    primary_scorer: "exact",
    mean_score: null,
    mean_ci: null,
    pass_at_k: [],
    scorers: {},
    errors: { count: 0, rate: 0, by_code: {} },
    per_category: {},
    timing: { inference_ms: 0, execution_ms: 0 },
    usage: {
      prompt_tokens: 0,
      completion_tokens: 0,
      cost_usd: 0,
      latency_ms_mean: null,
      latency_ms_p50: null,
      latency_ms_p95: null,
      tokens_per_s: null,
    },
    ...overrides,
  };
}

const ci = (low: number, high: number) => ({ low, high, confidence: 0.95, iterations: 10_000, n_items: 40 });
const passAtK = (...values: number[]) => values.map((pass_at_k, i) => ({ k: i + 1, pass_at_k, n_items: 40 }));
const usage = (prompt_tokens: number, completion_tokens: number, cost_usd: number) => ({
  prompt_tokens,
  completion_tokens,
  cost_usd,
  latency_ms_mean: 812.4,
  latency_ms_p50: 640,
  latency_ms_p95: 2110.5,
  tokens_per_s: 41.2,
});

export const TRIAL_NAMES = {
  cot: "openai-gpt-4o-mini__cot__3f9a1c2e",
  direct: "openai-gpt-4o-mini__direct__b71e08d4",
  local: "llamacpp-qwen2.5-1.5b-instruct__cot__0c5d2a91",
  broken: "http-my-endpoint__cot__e44f1b07",
} as const;

export const FIXTURE_TRIALS: TrialSummary[] = [
  makeTrial({
    trial: TRIAL_NAMES.cot,
    mean_score: 0.833333,
    mean_ci: ci(0.7625, 0.895833),
    pass_at_k: passAtK(0.833333, 0.9, 0.925),
    scorers: { exact: { n: 120, mean: 0.833333, mean_errors_as_wrong: 0.833333, passed: 100 } },
    per_category: {
      arithmetic: { n: 45, mean: 0.911111 },
      "sets & logic": { n: 36, mean: 0.777778 },
      "word-problems": { n: 39, mean: 0.794872 },
    },
    usage: usage(38_400, 21_950, 0.0421),
  }),
  makeTrial({
    trial: TRIAL_NAMES.direct,
    prompt_set: "direct",
    predictions: { expected: 120, ok: 118, error: 2, missing: 0, cached: 0 },
    mean_score: 0.716667,
    mean_ci: ci(0.629167, 0.8),
    pass_at_k: passAtK(0.708333, 0.791667, 0.825),
    scorers: { exact: { n: 118, mean: 0.716667, mean_errors_as_wrong: 0.704861, passed: 85 } },
    errors: { count: 2, rate: 0.016667, by_code: { timeout: 2 } },
    per_category: {
      arithmetic: { n: 44, mean: 0.844444 },
      "sets & logic": { n: 36, mean: 0.611111 },
      "word-problems": { n: 38, mean: 0.666667 },
    },
    usage: usage(24_000, 2_640, 0.0187),
  }),
  makeTrial({
    trial: TRIAL_NAMES.local,
    model: "llamacpp:qwen2.5-1.5b-instruct-q4_k_m",
    predictions: { expected: 120, ok: 117, error: 3, missing: 0, cached: 12 },
    mean_score: 0.541667,
    mean_ci: ci(0.45, 0.633333),
    pass_at_k: passAtK(0.533333, 0.633333, 0.7),
    scorers: { exact: { n: 117, mean: 0.541667, mean_errors_as_wrong: 0.528125, passed: 63 } },
    errors: { count: 3, rate: 0.025, by_code: { context_length: 1, timeout: 2 } },
    per_category: {
      arithmetic: { n: 44, mean: 0.6 },
      "sets & logic": { n: 35, mean: 0.5 },
      "word-problems": { n: 38, mean: 0.512821 },
    },
    usage: usage(40_100, 25_300, 0),
  }),
  makeTrial({
    trial: TRIAL_NAMES.broken,
    model: "http:my-endpoint",
    predictions: { expected: 120, ok: 0, error: 120, missing: 0, cached: 0 },
    pass_at_k: passAtK(0, 0, 0),
    scorers: { exact: { n: 0, mean: null, mean_errors_as_wrong: 0, passed: 0 } },
    errors: { count: 120, rate: 1, by_code: { http_500: 117, timeout: 3 } },
  }),
];

/** One comparison row, B − A on 40 shared items, by McNemar or a Monte Carlo permutation test. */
export function makeComparison(
  a: string,
  b: string,
  fields: { mean_a: number; mean_b: number; ci: [number, number]; p: number; p_adjusted: number },
  test: TrialComparison["test"] = "mcnemar",
): TrialComparison {
  const testFields =
    test === "mcnemar"
      ? ({ test, b01: 4, b10: 18 } as const)
      : ({ test, permutation_method: "monte_carlo" } as const);
  return {
    ...testFields,
    trial_a: a,
    trial_b: b,
    n_shared: 40,
    n_only_a: 0,
    n_only_b: 0,
    mean_a: fields.mean_a,
    mean_b: fields.mean_b,
    diff: Number((fields.mean_b - fields.mean_a).toFixed(6)),
    ci_low: fields.ci[0],
    ci_high: fields.ci[1],
    confidence: 0.95,
    p_value: fields.p,
    p_adjusted: fields.p_adjusted,
    alpha: 0.05,
    significant: fields.p_adjusted < 0.05,
  };
}

/** Holm over p = (0.041, 0.00004, 0.038): adjusted (0.076, 0.00012, 0.076) — one significant. */
export const FIXTURE_COMPARISONS: TrialComparison[] = [
  makeComparison(TRIAL_NAMES.cot, TRIAL_NAMES.direct, {
    mean_a: 0.833333,
    mean_b: 0.716667,
    ci: [-0.2, -0.033333],
    p: 0.041,
    p_adjusted: 0.076,
  }),
  makeComparison(TRIAL_NAMES.cot, TRIAL_NAMES.local, {
    mean_a: 0.833333,
    mean_b: 0.541667,
    ci: [-0.4, -0.183333],
    p: 0.00004,
    p_adjusted: 0.00012,
  }),
  makeComparison(
    TRIAL_NAMES.direct,
    TRIAL_NAMES.local,
    { mean_a: 0.716667, mean_b: 0.541667, ci: [-0.283333, -0.066667], p: 0.038, p_adjusted: 0.076 },
    "permutation",
  ),
];

/** The fixture experiment; `overrides` replace top-level fields (costs are rebuilt from trials). */
export function makeReportData(overrides: Partial<ExperimentReportData> = {}): ExperimentReportData {
  const trials = overrides.trials ?? FIXTURE_TRIALS;
  return {
    name: "gsm-lite: prompt ablation",
    task: "qa",
    dataset: "examples/data/gsm-lite.jsonl",
    tool_version: "0.1.0",
    primary_scorer: "exact",
    alpha: 0.05,
    trials,
    comparisons: FIXTURE_COMPARISONS,
    costs: buildCosts(trials),
    ...overrides,
  };
}
