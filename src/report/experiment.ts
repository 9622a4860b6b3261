import type { TrialComparison } from "../stats/index.js";
import type { TrialSummary } from "./summary.js";

/** costs.json: what each trial cost, and per useful unit. */
export interface CostsReport {
  currency: "USD";
  total_usd: number;
  trials: {
    trial: string;
    model: string;
    prompt_tokens: number;
    completion_tokens: number;
    cost_usd: number;
    /** Cost per expected prediction. */
    cost_per_prediction: number | null;
    /** Cost per passed prediction (primary scorer); null when nothing passed. */
    cost_per_pass: number | null;
  }[];
}

/** Everything an experiment-level report shows (report.md, report.html). */
export interface ExperimentReportData {
  name: string;
  task: string;
  dataset: string;
  tool_version: string;
  primary_scorer: string;
  alpha: number;
  trials: TrialSummary[];
  /** Every pairwise comparison (B − A) on shared items, Holm-adjusted across the experiment. */
  comparisons: TrialComparison[];
  costs: CostsReport;
}

const round = (x: number): number => Number(x.toFixed(8));

export function buildCosts(trials: TrialSummary[]): CostsReport {
  const rows = trials.map((t) => {
    const passed = t.scorers[t.primary_scorer]?.passed ?? 0;
    const cost = t.usage.cost_usd;
    return {
      trial: t.trial,
      model: t.model,
      prompt_tokens: t.usage.prompt_tokens,
      completion_tokens: t.usage.completion_tokens,
      cost_usd: cost,
      cost_per_prediction: t.predictions.expected > 0 ? round(cost / t.predictions.expected) : null,
      cost_per_pass: passed > 0 ? round(cost / passed) : null,
    };
  });
  return { currency: "USD", total_usd: round(rows.reduce((a, r) => a + r.cost_usd, 0)), trials: rows };
}
