import type { TrialSummary } from "./summary.js";

export const fmtPct = (x: number | null | undefined): string =>
  x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`;
export const fmtUsd = (x: number): string =>
  x === 0 ? "$0" : x < 0.01 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`;

/** A markdown table; cells are escaped for pipes and newlines. */
export function table(header: string[], rows: (string | number)[][]): string {
  const esc = (c: string | number): string => String(c).replace(/\|/g, "\\|").replace(/\n/g, " ");
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

export function renderTrialMarkdown(s: TrialSummary): string {
  const lines = [
    `# ${s.trial}`,
    "",
    `- model: \`${s.model}\``,
    `- prompt set: \`${s.prompt_set}\``,
    `- task: \`${s.task}\`, ${s.items} items × ${s.samples_per_item} sample(s)`,
    `- predictions: ${s.predictions.ok} ok, ${s.predictions.error} error, ${s.predictions.missing} missing, ${s.predictions.cached} cached`,
  ];
  if (s.executions) {
    lines.push(
      `- executions: ${s.executions.passed} passed, ${s.executions.failed} failed, ${s.executions.error} sandbox errors`,
    );
  }
  lines.push(
    `- **${s.primary_scorer}: ${fmtPct(s.mean_score)}** (errors excluded; ${fmtPct(s.scorers[s.primary_scorer]?.mean_errors_as_wrong)} counting errors as wrong)`,
    "",
    "## Scorers",
    "",
    table(
      ["scorer", "scored", "mean", "passed", "mean (errors as wrong)"],
      Object.entries(s.scorers).map(([name, v]) => [
        name,
        v.n,
        fmtPct(v.mean),
        v.passed,
        fmtPct(v.mean_errors_as_wrong),
      ]),
    ),
  );
  if (Object.keys(s.per_category).length > 0) {
    lines.push(
      "",
      "## Per category",
      "",
      table(
        ["category", "n", s.primary_scorer],
        Object.entries(s.per_category).map(([c, v]) => [c, v.n, fmtPct(v.mean)]),
      ),
    );
  }
  if (s.errors.count > 0) {
    lines.push("", "## Errors", "", table(["code", "count"], Object.entries(s.errors.by_code)));
  }
  lines.push(
    "",
    "## Usage",
    "",
    `${s.usage.prompt_tokens} prompt tokens, ${s.usage.completion_tokens} completion tokens, cost ${fmtUsd(s.usage.cost_usd)}; latency p50 ${s.usage.latency_ms_p50 ?? "–"} ms, p95 ${s.usage.latency_ms_p95 ?? "–"} ms`,
    "",
  );
  return lines.join("\n");
}

export interface ExperimentReportInput {
  name: string;
  task: string;
  dataset: string;
  trials: TrialSummary[];
}

export function renderExperimentMarkdown(input: ExperimentReportInput): string {
  const primary = input.trials[0]?.primary_scorer ?? "score";
  const rows = input.trials.map((t) => [
    `[${t.trial}](${t.trial}/report.md)`,
    `\`${t.model}\``,
    t.prompt_set,
    t.items * t.samples_per_item,
    fmtPct(t.mean_score),
    t.errors.count,
    fmtUsd(t.usage.cost_usd),
  ]);
  return [
    `# ${input.name}`,
    "",
    `Task \`${input.task}\` on \`${input.dataset}\`; ${input.trials.length} trial(s). Scores are means over scored predictions; errors are counted apart.`,
    "",
    table(["trial", "model", "prompt set", "predictions", primary, "errors", "cost"], rows),
    "",
  ].join("\n");
}
