/**
 * `benchline analyze <trial-dir>`: the base model's uncertainty where a guided trial consulted the
 * oracle, against a matched sample of the points where it did not. Reads the `points` a guided
 * model records with `analysis: true`, joins each row's correctness (the primary scorer), and writes
 * `analysis.jsonl` (one row per point) and `analysis.md` (distributions and point-biserial
 * correlations with correctness, with bootstrap CIs).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BenchlineError,
  predictionSchema,
  readJsonl,
  rowKey,
  scoreSchema,
  seededRandom,
} from "../core/index.js";
import type { GuidedPoint } from "../providers/index.js";
import { type Correlation, mean, pointBiserial, quantileSorted } from "../stats/index.js";
import { latestRows, trialFiles } from "./files.js";

export interface AnalyzeOptions {
  /** Output directory (default: the trial directory). */
  out?: string;
  /** Seed of the matched sample of non-consultation points and of the bootstrap. */
  seed?: number;
}

/** One row of analysis.jsonl: a point the guided model recorded, with its row and correctness. */
export interface AnalysisRow extends GuidedPoint {
  id: string;
  sample: number;
  normalized_position: number;
  correct: boolean | null;
}

const STATISTICS = ["entropy", "varentropy", "top1_prob", "top1_minus_top2"] as const;

export const ATTENTION_NOTE =
  "Attention statistics are not reported: no supported backend (embedded llama.cpp through node-llama-cpp, OpenAI-compatible servers) exposes attention weights, so they are left out rather than estimated.";

/** Analyses the trial in `dir`; returns the files written. */
export async function analyzeTrial(
  dir: string,
  options: AnalyzeOptions = {},
): Promise<{ files: string[]; rows: number }> {
  const files = trialFiles(dir);
  if (!existsSync(files.trial))
    throw new BenchlineError("not_found", `${dir}: not a trial directory (no trial.json)`);
  const spec = (
    JSON.parse(readFileSync(files.trial, "utf8")) as { spec: { model: { id: string; provider: string } } }
  ).spec;
  if (spec.model.provider !== "guided")
    throw new BenchlineError(
      "usage",
      `${dir}: model "${spec.model.id}" is not a guided model; analyze needs a guided trial`,
    );
  if (!existsSync(files.predictions))
    throw new BenchlineError("not_found", `${dir}: no predictions.jsonl (run the trial first)`);
  const primary = existsSync(files.summary)
    ? (JSON.parse(readFileSync(files.summary, "utf8")) as { primary_scorer?: string }).primary_scorer
    : undefined;
  const correct = new Map<string, boolean>();
  if (existsSync(files.scores)) {
    let scorer = primary;
    for await (const { value } of readJsonl(files.scores, { schema: scoreSchema })) {
      scorer ??= value.scorer;
      if (value.scorer === scorer) correct.set(rowKey(value.id, value.sample), value.passed);
    }
  }
  const seed = options.seed ?? 0;
  const rows: AnalysisRow[] = [];
  let withPoints = 0;
  for await (const p of latestRows(files.predictions, predictionSchema)) {
    if (p.status !== "ok") continue;
    const extras = p as {
      points?: GuidedPoint[];
      total_tokens?: number;
    };
    if (!Array.isArray(extras.points)) continue;
    withPoints++;
    const total = extras.total_tokens ?? p.usage?.completion_tokens ?? 0;
    const consulted = extras.points.filter((x) => x.consulted);
    const others = extras.points.filter((x) => !x.consulted);
    // A matched sample: as many non-consultation points as consultations, drawn without replacement.
    const rng = seededRandom(`${seed}/${p.id}/${p.sample}`);
    for (let i = 0; i < Math.min(consulted.length, others.length); i++) {
      const j = i + Math.floor(rng() * (others.length - i));
      [others[i], others[j]] = [others[j] as (typeof others)[number], others[i] as (typeof others)[number]];
    }
    const chosen = [...consulted, ...others.slice(0, consulted.length)].sort(
      (a, b) => a.position - b.position,
    );
    const key = rowKey(p.id, p.sample);
    for (const x of chosen)
      rows.push({
        id: p.id,
        sample: p.sample,
        position: x.position,
        normalized_position: total > 0 ? x.position / total : 0,
        consulted: x.consulted,
        entropy: x.entropy,
        varentropy: x.varentropy,
        top1_prob: x.top1_prob,
        top1_minus_top2: x.top1_minus_top2,
        base_token: x.base_token,
        oracle_token: x.oracle_token,
        agree: x.agree,
        correct: correct.get(key) ?? null,
        distribution: x.distribution,
      });
  }
  if (withPoints === 0)
    throw new BenchlineError(
      "input",
      `${files.predictions}: no row has analysis points; run the guided model with analysis: true`,
    );
  const out = options.out ?? dir;
  const jsonlPath = join(out, "analysis.jsonl");
  const mdPath = join(out, "analysis.md");
  writeFileSync(jsonlPath, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
  writeFileSync(mdPath, renderAnalysis(spec.model.id, rows, withPoints, primary, seed));
  return { files: [jsonlPath, mdPath], rows: rows.length };
}

function renderAnalysis(
  model: string,
  rows: AnalysisRow[],
  predictions: number,
  scorer: string | undefined,
  seed: number,
): string {
  const consulted = rows.filter((r) => r.consulted);
  const others = rows.filter((r) => !r.consulted);
  const sources = [...new Set(rows.map((r) => r.distribution))];
  const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? "–" : x.toFixed(3));
  const describe = (values: number[]): string[] => {
    const sorted = [...values].sort((a, b) => a - b);
    if (sorted.length === 0) return ["0", "–", "–", "–", "–"];
    return [
      String(sorted.length),
      fmt(mean(sorted)),
      fmt(quantileSorted(sorted, 0.5)),
      fmt(quantileSorted(sorted, 0.1)),
      fmt(quantileSorted(sorted, 0.9)),
    ];
  };
  const lines = [
    `# Guided decoding analysis: \`${model}\``,
    "",
    `${predictions} prediction(s); ${consulted.length} oracle consultation point(s) and ${others.length} matched non-consultation point(s) (seed ${seed}).`,
    `Next-token distributions from: ${sources.map((s) => (s === "full_vocabulary" ? "the full vocabulary (embedded model)" : "the server's top logprobs (entropy a lower bound: the leftover mass counts as one outcome)")).join("; ")}.`,
    "",
    ATTENTION_NOTE,
    "",
    "## Distributions",
    "",
    "| statistic | points | n | mean | median | p10 | p90 |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const stat of STATISTICS)
    for (const [label, group] of [
      ["consultation", consulted],
      ["other", others],
    ] as const)
      lines.push(`| ${stat} | ${label} | ${describe(group.map((r) => r[stat])).join(" | ")} |`);
  const agreement = (group: AnalysisRow[]) => {
    const known = group.filter((r) => r.agree !== null);
    return known.length === 0
      ? "–"
      : `${((known.filter((r) => r.agree).length / known.length) * 100).toFixed(1)}% of ${known.length}`;
  };
  lines.push(
    "",
    `Base and oracle agree on the next token: ${agreement(consulted)} at consultations, ${agreement(others)} elsewhere${others.some((r) => r.agree === null) ? " (not measured where the oracle was not asked: HTTP mode)" : ""}.`,
    "",
    `## Correlation with correctness${scorer ? ` (${scorer})` : ""}`,
    "",
    "Point-biserial correlation of each statistic with the row being correct, with a 95% percentile bootstrap CI.",
    "",
    "| statistic | points | n | r | 95% CI |",
    "|---|---|---|---|---|",
  );
  for (const stat of STATISTICS)
    for (const [label, group] of [
      ["consultation", consulted],
      ["all", rows],
    ] as const) {
      const scored = group.filter((r) => r.correct !== null);
      const c: Correlation = pointBiserial(
        scored.map((r) => r[stat]),
        scored.map((r) => r.correct as boolean),
        { seed },
      );
      lines.push(
        `| ${stat} | ${label} | ${c.n} | ${fmt(c.r)} | ${c.low === null ? "–" : `[${fmt(c.low)}, ${fmt(c.high)}]`} |`,
      );
    }
  return `${lines.join("\n")}\n`;
}
