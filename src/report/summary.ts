import { bootstrapCI, type PassAtKRow, passAtKTableUniform } from "../stats/index.js";

/** Settings of the statistics in summaries and comparisons (`stats:` in the experiment file). */
export interface StatsSettings {
  iterations: number;
  confidence: number;
  seed: number;
  alpha: number;
  /** k values for pass@k; default every k ≤ n. */
  pass_at_k?: number[];
  /** Which trials are compared: each against a baseline (default; k − 1 pairs) or every pair. */
  comparisons?: "baseline" | "all";
  /** The baseline model's id (default: the first model). */
  baseline?: string;
}

export const DEFAULT_STATS: StatsSettings = { iterations: 10_000, confidence: 0.95, seed: 0, alpha: 0.05 };

/**
 * Per-trial summary (summary.json): a pure function of the trial's final rows. Deterministic —
 * no timestamps — so rebuilding it from unchanged files gives identical bytes.
 */
export interface SummaryInput {
  trial: { name: string; model: string; prompt_set: string; task: string };
  /**
   * Loaded items: id and category, as a list or (compact, for large datasets) as a map from id
   * to category in item order.
   */
  items: readonly { id: string; category?: string }[] | ReadonlyMap<string, string | undefined>;
  samplesPerItem: number;
  /** Final prediction per (id, sample) for loaded items. */
  predictions: {
    id: string;
    sample: number;
    status: "ok" | "error";
    error_code?: string;
    error_message?: string;
    cached: boolean;
    latency_ms: number;
    prompt_tokens?: number;
    completion_tokens?: number;
    cost_usd?: number;
  }[];
  /** Final execution per (id, sample), for tasks that execute. */
  executions?: {
    id: string;
    sample: number;
    status: "ok" | "error";
    passed: boolean;
    error_code?: string;
    error_message?: string;
    duration_ms?: number;
  }[];
  /**
   * Final score per (id, sample, scorer). `parsed`: whether the scorer found an answer to grade
   * (answer-extracting scorers such as `math`); `dropped`: an unparsed row the task leaves out of
   * the denominator (the published-number convention), excluded from every mean.
   */
  scores: {
    id: string;
    sample: number;
    scorer: string;
    value: number;
    passed: boolean;
    parsed?: boolean;
    dropped?: boolean;
  }[];
  scorers: string[];
  stats?: StatsSettings;
}

export interface ScorerSummary {
  /** Scored predictions. */
  n: number;
  /** Mean over scored predictions (errors excluded); null when nothing was scored. */
  mean: number | null;
  /** Mean with every expected prediction that has no score (errors, missing) counted as 0. */
  mean_errors_as_wrong: number | null;
  passed: number;
  /** Scored predictions in which an answer was found, for scorers that extract one. */
  parse?: { parsed: number; rate: number };
  /** Unparsed predictions left out of `n` and every mean (task option `unparsed: drop`). */
  dropped_unparsed?: number;
}

export interface TrialSummary {
  trial: string;
  model: string;
  /** The sweep point of a swept model entry (`grid:`, lists for `c`/`k`). */
  grid?: Record<string, unknown>;
  prompt_set: string;
  task: string;
  items: number;
  samples_per_item: number;
  predictions: { expected: number; ok: number; error: number; missing: number; cached: number };
  executions?: { total: number; passed: number; failed: number; error: number };
  primary_scorer: string;
  /**
   * The primary scorer's mean over items (each item: the mean of its scored samples), the same
   * unit as `mean_ci` and the paired comparisons; errors excluded. `scorers[…].mean` is the
   * pooled mean over scored predictions.
   */
  mean_score: number | null;
  /**
   * Bootstrap CI of the primary scorer's mean, resampling items (each item's value is the mean
   * over its scored samples); seeded, so it is reproducible.
   */
  mean_ci: { low: number; high: number; confidence: number; iterations: number; n_items: number } | null;
  /** Unbiased pass@k (Chen et al. 2021) on the primary scorer's `passed`; errors count as failures. */
  pass_at_k: PassAtKRow[];
  scorers: Record<string, ScorerSummary>;
  /** Error rows (generation and execution) by code, with the first message seen for each code. */
  errors: {
    count: number;
    rate: number;
    by_code: Record<string, number>;
    /** Absent in summaries written before it was added. */
    examples?: Record<string, string>;
  };
  per_category: Record<string, { n: number; mean: number | null }>;
  /** Time spent, summed over rows: model calls (cache hits excluded) and sandboxed executions. */
  timing: { inference_ms: number; execution_ms: number };
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    cost_usd: number;
    latency_ms_mean: number | null;
    latency_ms_p50: number | null;
    latency_ms_p95: number | null;
    /** Completion tokens per second of model time (summed latencies of non-cached requests). */
    tokens_per_s: number | null;
  };
}

const round = (x: number, digits = 6): number => Number(x.toFixed(digits));
const meanOf = (xs: number[]): number | null =>
  xs.length === 0 ? null : round(xs.reduce((a, b) => a + b, 0) / xs.length);

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return round(sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo), 1);
}

/** Item count and (id, category) pairs in item order, from either form of `SummaryInput.items`. */
function itemsOf(items: SummaryInput["items"]): {
  count: number;
  entries: () => Iterable<[string, string | undefined]>;
} {
  if (!Array.isArray(items)) {
    const map = items as ReadonlyMap<string, string | undefined>;
    return { count: map.size, entries: () => map.entries() };
  }
  const list = items as readonly { id: string; category?: string }[];
  return {
    count: list.length,
    entries: () => list.map((i): [string, string | undefined] => [i.id, i.category]),
  };
}

/** Passed samples of the primary scorer per item, in item order (one number per item, no object). */
function passedCounts(
  items: SummaryInput["items"],
  passed: ReadonlyMap<string, number>,
  leftOut: ReadonlySet<string> = new Set(),
): Uint32Array {
  const { count, entries } = itemsOf(items);
  const counts = new Uint32Array(count - leftOut.size);
  let i = 0;
  for (const [id] of entries()) if (!leftOut.has(id)) counts[i++] = passed.get(id) ?? 0;
  return counts;
}

/** Items whose every primary score is dropped (cvdp: skipped, no judge): not in pass@k at all. */
function leftOutItems(
  dropped: readonly { id: string; scorer: string }[],
  kept: readonly { id: string; scorer: string }[],
  primary: string,
): Set<string> {
  const out = new Set(dropped.filter((s) => s.scorer === primary).map((s) => s.id));
  for (const s of kept) if (s.scorer === primary) out.delete(s.id);
  return out;
}

export function summarizeTrial(full: SummaryInput): TrialSummary {
  const dropped = full.scores.filter((s) => s.dropped);
  const input = dropped.length > 0 ? { ...full, scores: full.scores.filter((s) => !s.dropped) } : full;
  const itemCount = itemsOf(input.items).count;
  const expected = itemCount * input.samplesPerItem;
  const preds = input.predictions;
  const ok = preds.filter((p) => p.status === "ok");
  const errored = preds.filter((p) => p.status === "error");
  const byCode: Record<string, number> = {};
  const examples: Record<string, string> = {};
  const countError = (code: string, message: string | undefined): void => {
    byCode[code] = (byCode[code] ?? 0) + 1;
    if (examples[code] === undefined && message) examples[code] = message;
  };
  for (const p of errored) countError(p.error_code ?? "error", p.error_message);
  let execErrors = 0;
  for (const e of input.executions ?? []) {
    if (e.status !== "error") continue;
    execErrors++;
    countError(`execution:${e.error_code ?? "error"}`, e.error_message);
  }

  const scorers: Record<string, ScorerSummary> = {};
  for (const name of input.scorers) {
    const rows = input.scores.filter((s) => s.scorer === name);
    const values = rows.map((s) => s.value);
    scorers[name] = {
      n: rows.length,
      mean: meanOf(values),
      mean_errors_as_wrong: expected === 0 ? null : round(values.reduce((a, b) => a + b, 0) / expected),
      passed: rows.filter((s) => s.passed).length,
    };
    const withParse = full.scores.filter((s) => s.scorer === name && s.parsed !== undefined);
    if (withParse.length > 0) {
      const parsed = withParse.filter((s) => s.parsed).length;
      scorers[name].parse = { parsed, rate: round(parsed / withParse.length) };
      const drops = dropped.filter((s) => s.scorer === name).length;
      if (drops > 0) scorers[name].dropped_unparsed = drops;
    }
  }
  const primary = input.scorers[0] ?? "";

  // Only items with a category (a dataset without categories adds no entry per item).
  const category = new Map<string, string>();
  for (const [id, c] of itemsOf(input.items).entries()) if (c !== undefined) category.set(id, c);
  const perCategory: Record<string, number[]> = {};
  for (const s of input.scores) {
    if (s.scorer !== primary) continue;
    const c = category.get(s.id);
    if (c === undefined) continue;
    const values = perCategory[c] ?? [];
    values.push(s.value);
    perCategory[c] = values;
  }

  const stats = input.stats ?? DEFAULT_STATS;
  const perItem = new Map<string, number[]>();
  const passedPerItem = new Map<string, number>();
  for (const s of input.scores) {
    if (s.scorer !== primary) continue;
    const values = perItem.get(s.id) ?? [];
    values.push(s.value);
    perItem.set(s.id, values);
    if (s.passed) passedPerItem.set(s.id, (passedPerItem.get(s.id) ?? 0) + 1);
  }
  const itemMeans = [...perItem.values()].map((v) => v.reduce((a, b) => a + b, 0) / v.length);
  let meanCi: TrialSummary["mean_ci"] = null;
  if (itemMeans.length > 0) {
    const ci = bootstrapCI(itemMeans, {
      iterations: stats.iterations,
      confidence: stats.confidence,
      seed: stats.seed,
    });
    meanCi = {
      low: round(ci.low),
      high: round(ci.high),
      confidence: stats.confidence,
      iterations: stats.iterations,
      n_items: itemMeans.length,
    };
  }
  const passAtK =
    primary && itemCount > 0
      ? passAtKTableUniform(
          input.samplesPerItem,
          passedCounts(input.items, passedPerItem, leftOutItems(dropped, input.scores, primary)),
          stats.pass_at_k,
        ).map((r) => ({ ...r, pass_at_k: round(r.pass_at_k) }))
      : [];

  const latencies = ok
    .filter((p) => !p.cached)
    .map((p) => p.latency_ms)
    .sort((a, b) => a - b);
  const sum = (f: (p: (typeof preds)[number]) => number | undefined): number =>
    preds.reduce((a, p) => a + (f(p) ?? 0), 0);
  const errorCount = errored.length + execErrors;

  const summary: TrialSummary = {
    trial: input.trial.name,
    model: input.trial.model,
    prompt_set: input.trial.prompt_set,
    task: input.trial.task,
    items: itemCount,
    samples_per_item: input.samplesPerItem,
    predictions: {
      expected,
      ok: ok.length,
      error: errored.length,
      missing: expected - preds.length,
      cached: ok.filter((p) => p.cached).length,
    },
    primary_scorer: primary,
    mean_score: meanOf(itemMeans),
    mean_ci: meanCi,
    pass_at_k: passAtK,
    scorers,
    errors: {
      count: errorCount,
      rate: expected === 0 ? 0 : round(errorCount / expected),
      by_code: sortKeys(byCode),
      examples: sortKeys(examples),
    },
    per_category: Object.fromEntries(
      Object.keys(perCategory)
        .sort()
        .map((c) => [c, { n: perCategory[c]!.length, mean: meanOf(perCategory[c]!) }]),
    ),
    timing: {
      inference_ms: latencies.reduce((a, b) => a + b, 0),
      execution_ms: (input.executions ?? []).reduce((a, e) => a + (e.duration_ms ?? 0), 0),
    },
    usage: {
      prompt_tokens: sum((p) => p.prompt_tokens),
      completion_tokens: sum((p) => p.completion_tokens),
      cost_usd: round(sum((p) => p.cost_usd)),
      latency_ms_mean: meanOf(latencies),
      latency_ms_p50: quantile(latencies, 0.5),
      latency_ms_p95: quantile(latencies, 0.95),
      tokens_per_s: tokensPerSecond(ok, latencies),
    },
  };
  if (input.executions) {
    const ex = input.executions;
    summary.executions = {
      total: ex.length,
      passed: ex.filter((e) => e.status === "ok" && e.passed).length,
      failed: ex.filter((e) => e.status === "ok" && !e.passed).length,
      error: execErrors,
    };
  }
  return summary;
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, record[k]!]),
  );
}

function tokensPerSecond(ok: SummaryInput["predictions"], latencies: number[]): number | null {
  const tokens = ok.filter((p) => !p.cached).reduce((a, p) => a + (p.completion_tokens ?? 0), 0);
  const seconds = latencies.reduce((a, b) => a + b, 0) / 1000;
  return tokens > 0 && seconds > 0 ? round(tokens / seconds, 1) : null;
}
