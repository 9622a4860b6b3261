/**
 * Per-trial summary (summary.json): a pure function of the trial's final rows. Deterministic —
 * no timestamps — so rebuilding it from unchanged files gives identical bytes.
 */
export interface SummaryInput {
  trial: { name: string; model: string; prompt_set: string; task: string };
  /** Loaded items: id and category. */
  items: { id: string; category?: string }[];
  samplesPerItem: number;
  /** Final prediction per (id, sample) for loaded items. */
  predictions: {
    id: string;
    sample: number;
    status: "ok" | "error";
    error_code?: string;
    cached: boolean;
    latency_ms: number;
    prompt_tokens?: number;
    completion_tokens?: number;
    cost_usd?: number;
  }[];
  /** Final execution per (id, sample), for tasks that execute. */
  executions?: { id: string; sample: number; status: "ok" | "error"; passed: boolean; error_code?: string }[];
  /** Final score per (id, sample, scorer). */
  scores: { id: string; sample: number; scorer: string; value: number; passed: boolean }[];
  scorers: string[];
}

export interface ScorerSummary {
  /** Scored predictions. */
  n: number;
  /** Mean over scored predictions (errors excluded); null when nothing was scored. */
  mean: number | null;
  /** Mean with every expected prediction that has no score (errors, missing) counted as 0. */
  mean_errors_as_wrong: number | null;
  passed: number;
}

export interface TrialSummary {
  trial: string;
  model: string;
  prompt_set: string;
  task: string;
  items: number;
  samples_per_item: number;
  predictions: { expected: number; ok: number; error: number; missing: number; cached: number };
  executions?: { total: number; passed: number; failed: number; error: number };
  primary_scorer: string;
  mean_score: number | null;
  scorers: Record<string, ScorerSummary>;
  errors: { count: number; rate: number; by_code: Record<string, number> };
  per_category: Record<string, { n: number; mean: number | null }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    cost_usd: number;
    latency_ms_mean: number | null;
    latency_ms_p50: number | null;
    latency_ms_p95: number | null;
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

export function summarizeTrial(input: SummaryInput): TrialSummary {
  const expected = input.items.length * input.samplesPerItem;
  const preds = input.predictions;
  const ok = preds.filter((p) => p.status === "ok");
  const errored = preds.filter((p) => p.status === "error");
  const byCode: Record<string, number> = {};
  for (const p of errored) byCode[p.error_code ?? "error"] = (byCode[p.error_code ?? "error"] ?? 0) + 1;
  let execErrors = 0;
  for (const e of input.executions ?? []) {
    if (e.status !== "error") continue;
    execErrors++;
    const code = `execution:${e.error_code ?? "error"}`;
    byCode[code] = (byCode[code] ?? 0) + 1;
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
  }
  const primary = input.scorers[0] ?? "";

  const category = new Map(input.items.map((i) => [i.id, i.category]));
  const perCategory: Record<string, number[]> = {};
  for (const s of input.scores) {
    if (s.scorer !== primary) continue;
    const c = category.get(s.id);
    if (c === undefined) continue;
    const values = perCategory[c] ?? [];
    values.push(s.value);
    perCategory[c] = values;
  }

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
    items: input.items.length,
    samples_per_item: input.samplesPerItem,
    predictions: {
      expected,
      ok: ok.length,
      error: errored.length,
      missing: expected - preds.length,
      cached: ok.filter((p) => p.cached).length,
    },
    primary_scorer: primary,
    mean_score: scorers[primary]?.mean ?? null,
    scorers,
    errors: {
      count: errorCount,
      rate: expected === 0 ? 0 : round(errorCount / expected),
      by_code: sortKeys(byCode),
    },
    per_category: Object.fromEntries(
      Object.keys(perCategory)
        .sort()
        .map((c) => [c, { n: perCategory[c]!.length, mean: meanOf(perCategory[c]!) }]),
    ),
    usage: {
      prompt_tokens: sum((p) => p.prompt_tokens),
      completion_tokens: sum((p) => p.completion_tokens),
      cost_usd: round(sum((p) => p.cost_usd)),
      latency_ms_mean: meanOf(latencies),
      latency_ms_p50: quantile(latencies, 0.5),
      latency_ms_p95: quantile(latencies, 0.95),
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
