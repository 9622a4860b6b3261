import type { ExperimentReportData } from "./experiment.js";
import { renderGridTables } from "./grid.js";
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
      `- executions: ${s.executions.passed} passed, ${s.executions.failed} failed their tests, ${s.executions.error} sandbox errors; ${s.predictions.error} generation errors`,
      `- time: ${(s.timing.inference_ms / 1000).toFixed(1)} s in inference, ${(s.timing.execution_ms / 1000).toFixed(1)} s in execution (summed over rows)`,
    );
  }
  lines.push(
    `- **${s.primary_scorer}: ${ciText(s)}** (errors excluded; ${fmtPct(s.scorers[s.primary_scorer]?.mean_errors_as_wrong)} counting errors as wrong)`,
    ...parseLines(s),
    ...(s.pass_at_k.length > 1
      ? [`- pass@k: ${s.pass_at_k.map((r) => `pass@${r.k} ${fmtPct(r.pass_at_k)}`).join(", ")}`]
      : []),
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
    lines.push(
      "",
      "## Errors",
      "",
      table(
        ["code", "count", "example"],
        Object.entries(s.errors.by_code).map(([code, n]) => [code, n, s.errors.examples?.[code] ?? ""]),
      ),
    );
  }
  lines.push(
    "",
    "## Usage",
    "",
    `${s.usage.prompt_tokens} prompt tokens, ${s.usage.completion_tokens} completion tokens, cost ${fmtUsd(s.usage.cost_usd)}; ${s.usage.tokens_per_s ?? "–"} tokens/s; latency p50 ${s.usage.latency_ms_p50 ?? "–"} ms, p95 ${s.usage.latency_ms_p95 ?? "–"} ms`,
    "",
  );
  return lines.join("\n");
}

const ciText = (t: TrialSummary): string =>
  t.mean_ci
    ? `${fmtPct(t.mean_score)} [${fmtPct(t.mean_ci.low)}, ${fmtPct(t.mean_ci.high)}]`
    : fmtPct(t.mean_score);

/** Scored predictions of the primary scorer out of those expected: `10 / 40`. */
const scoredText = (t: TrialSummary): string =>
  `${t.scorers[t.primary_scorer]?.n ?? 0} / ${t.items * t.samples_per_item}`;

const fmtP = (p: number | null): string => (p === null ? "–" : p < 0.001 ? "<0.001" : p.toFixed(3));
const fmtDiff = (d: number | null): string =>
  d === null ? "–" : `${d >= 0 ? "+" : ""}${(d * 100).toFixed(1)} pp`;

export function renderExperimentMarkdown(data: ExperimentReportData): string {
  const primary = data.primary_scorer;
  const confidence = data.trials.find((t) => t.mean_ci)?.mean_ci?.confidence ?? 0.95;
  const lines = [
    `# ${data.name}`,
    "",
    `Task \`${data.task}\` on \`${data.dataset}\`; ${data.trials.length} trial(s); benchline ${data.tool_version}.`,
    `Scores are means of \`${primary}\` over scored predictions with ${Math.round(confidence * 100)}% bootstrap CIs over items; errors are counted apart, never as wrong answers.`,
    "",
    "## Trials",
    "",
    table(
      ["trial", "model", "prompt set", "items × samples", "scored", `${primary} [CI]`, "errors", "cost"],
      data.trials.map((t) => [
        `[${t.trial}](${t.trial}/report.md)`,
        `\`${t.model}\``,
        t.prompt_set,
        `${t.items} × ${t.samples_per_item}`,
        scoredText(t),
        ciText(t),
        t.errors.count,
        fmtUsd(t.usage.cost_usd),
      ]),
    ),
  ];
  const droppedOf = (t: TrialSummary): number => t.scorers[t.primary_scorer]?.dropped_unparsed ?? 0;
  const partial = data.trials.filter(
    (t) => (t.scorers[t.primary_scorer]?.n ?? 0) + droppedOf(t) < t.items * t.samples_per_item,
  );
  if (partial.length > 0)
    lines.push(
      "",
      `Not fully scored: ${partial.map((t) => `${t.trial} (${scoredText(t)})`).join(", ")}; their means cover the scored predictions only.`,
    );
  const dropping = data.trials.filter((t) => droppedOf(t) > 0);
  if (dropping.length > 0)
    lines.push(
      "",
      `**Unparsed answers dropped from the denominator** (task option \`unparsed: drop\`, as some published numbers do): ${dropping
        .map(
          (t) =>
            `${t.trial} (${droppedOf(t)} dropped; counting them as wrong gives ${fmtPct(t.scorers[t.primary_scorer]?.mean_errors_as_wrong)})`,
        )
        .join(", ")}.`,
    );
  lines.push(...renderGridTables(data.trials, ciText, table));
  const ks = [...new Set(data.trials.flatMap((t) => t.pass_at_k.map((r) => r.k)))].sort((a, b) => a - b);
  if (ks.some((k) => k > 1)) {
    lines.push(
      "",
      "## pass@k",
      "",
      "Unbiased estimator of Chen et al. (2021) over each item's samples; errors count as failures.",
      "",
      table(
        ["trial", ...ks.map((k) => `pass@${k}`)],
        data.trials.map((t) => [
          t.trial,
          ...ks.map((k) => fmtPct(t.pass_at_k.find((r) => r.k === k)?.pass_at_k)),
        ]),
      ),
    );
  }
  if (data.comparisons.length > 0) {
    const significant = data.comparisons.filter((c) => c.significant);
    lines.push(
      "",
      "## Significant differences",
      "",
      `Paired on shared items: B − A with a paired bootstrap CI; exact McNemar for pass/fail, permutation test otherwise; Holm-corrected across all ${data.comparisons.length} comparison(s) at alpha = ${data.alpha}.`,
      "",
    );
    if (significant.length === 0) lines.push("No difference is significant after correction.");
    else {
      lines.push(
        table(
          ["B", "A", "B − A", "CI", "test", "p", "p (Holm)"],
          significant.map((c) => [
            c.trial_b,
            c.trial_a,
            fmtDiff(c.diff),
            `[${fmtDiff(c.ci_low)}, ${fmtDiff(c.ci_high)}]`,
            c.test,
            fmtP(c.p_value),
            fmtP(c.p_adjusted),
          ]),
        ),
      );
    }
    lines.push("", "All comparisons are in `comparison.json`.");
  }
  lines.push(
    "",
    "## Costs",
    "",
    table(
      ["trial", "prompt tokens", "completion tokens", "cost", "per prediction", "per pass"],
      data.costs.trials.map((c) => [
        c.trial,
        c.prompt_tokens,
        c.completion_tokens,
        fmtUsd(c.cost_usd),
        c.cost_per_prediction === null ? "–" : fmtUsd(c.cost_per_prediction),
        c.cost_per_pass === null ? "–" : fmtUsd(c.cost_per_pass),
      ]),
    ),
    "",
    `Total: ${fmtUsd(data.costs.total_usd)}`,
  );
  const withErrors = data.trials.filter((t) => t.errors.count > 0);
  lines.push("", "## Errors", "");
  if (withErrors.length === 0) lines.push("No errors.");
  else {
    lines.push(
      table(
        ["trial", "errors", "rate", "by code"],
        withErrors.map((t) => [
          t.trial,
          t.errors.count,
          fmtPct(t.errors.rate),
          Object.entries(t.errors.by_code)
            .map(([c, n]) => `${c}: ${n}`)
            .join(", "),
        ]),
      ),
    );
  }
  lines.push("");
  return lines.join("\n");
}

/** Parse rate of an answer-extracting primary scorer, and the denominator it used. */
function parseLines(s: TrialSummary): string[] {
  const p = s.scorers[s.primary_scorer];
  if (!p?.parse) return [];
  const scored = p.n + (p.dropped_unparsed ?? 0);
  const lines = [`- answers parsed: ${p.parse.parsed} of ${scored} (${fmtPct(p.parse.rate)})`];
  if (p.dropped_unparsed) {
    lines.push(
      `- **${p.dropped_unparsed} unparsed answer(s) dropped from the denominator** (task option \`unparsed: drop\`, as some published numbers do); counting them as wrong gives ${fmtPct(p.mean_errors_as_wrong)}`,
    );
  }
  return lines;
}
