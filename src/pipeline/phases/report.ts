import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  buildCosts,
  type ExperimentReportData,
  renderExperimentHtml,
  renderExperimentMarkdown,
  renderTrialMarkdown,
  type StatsSettings,
  type TrialSummary,
} from "../../report/index.js";
import { allPairs, baselinePairs, comparePairs, type TrialComparison } from "../../stats/index.js";
import type { IdTable } from "../../tasks/index.js";
import { CsvFile, PREDICTION_COLUMNS, predictionCsvLine, SCORE_COLUMNS, scoreCsvLine } from "../csv-rows.js";
import { childDir } from "../files.js";
import type { FreshReport } from "../fresh-report.js";
import { readJson, writeIfChanged, writeJsonIfChanged } from "../json.js";
import { loadTrialData, type RowSinks, type TrialManifest } from "../trial-data.js";
import { VERSION } from "../version.js";

/** experiment.json: what `benchline report` needs to rebuild every report from the files alone. */
export interface ExperimentManifest {
  name: string;
  tool: { name: "benchline"; version: string };
  config: string;
  task: { name: string; options: Record<string, unknown> };
  dataset: { path: string; sha256: string; rows: number };
  /** Set by `benchline merge` when its sources were run over different datasets. */
  merged_datasets?: { path: string; sha256: string; rows: number }[];
  limit: number | null;
  samples: number;
  concurrency: number;
  scorers: string[];
  stats: StatsSettings;
  trials: { name: string; hash: string; model: string; prompt_set: string }[];
}

/**
 * Rebuilds every trial's summary.json and report.md, then the experiment's comparison.json
 * (also as significance.json), costs.json, predictions.csv, per_item_scores.csv, report.md and
 * report.html — from the run files alone.
 */
export async function writeReports(
  experimentDir: string,
  options: {
    comparisons?: "baseline" | "all";
    /**
     * The run's dataset ids (`Dataset.index`): trials whose items come in its order read them from
     * it instead of building a table of their own (a large run's report then holds one).
     */
    items?: IdTable;
    /**
     * Trials of the run just made whose summaries were built as their rows were written, by name:
     * used instead of reading those trials' files back when they cover the report's scope.
     */
    fresh?: ReadonlyMap<string, FreshReport>;
  } = {},
): Promise<{
  report: string;
  summaries: TrialSummary[];
  comparisons: TrialComparison[];
  /** What the user should know about what the reports cover (stale scores left out). */
  notes: string[];
}> {
  const manifest = readJson<ExperimentManifest>(join(experimentDir, "experiment.json"));
  const scope = { limit: manifest.limit, samples: manifest.samples, stats: manifest.stats };
  const predictionsCsv = new CsvFile(join(experimentDir, "predictions.csv"), PREDICTION_COLUMNS);
  let scoresCsv: CsvFile;
  try {
    scoresCsv = new CsvFile(join(experimentDir, "per_item_scores.csv"), SCORE_COLUMNS);
  } catch (error) {
    predictionsCsv.close();
    throw error;
  }
  const summaries: TrialSummary[] = [];
  const perItem: {
    name: string;
    model: string;
    group: string;
    values: Map<string, number>;
    scored: number;
  }[] = [];
  const notes: string[] = [];
  try {
    for (const t of manifest.trials) {
      const dir = childDir(experimentDir, t.name, `${join(experimentDir, "experiment.json")}: trials`);
      if (!existsSync(join(dir, "trial.json"))) continue;
      // One trial is compared with nothing: its per-item map (one entry per item) is not built.
      const perItemWanted = manifest.trials.length > 1;
      // A fresh trial's summary and CSV lines were made as its rows were written; any other trial's
      // CSV rows are written as the summary reads them (no pass of their own).
      const fresh = options.fresh?.get(t.name)?.data(scope, { perItem: perItemWanted });
      if (fresh) {
        predictionsCsv.append(fresh.csv.predictions);
        scoresCsv.append(fresh.csv.scores);
      }
      const data = fresh
        ? { ...fresh, manifest: readJson<TrialManifest>(join(dir, "trial.json")) }
        : await loadTrialData(dir, scope, {
            perItem: perItemWanted,
            ...(options.items ? { items: options.items } : {}),
            rows: (trial) => csvRows(trial, predictionsCsv, scoresCsv),
          });
      writeJsonIfChanged(join(dir, "summary.json"), data.summary);
      writeIfChanged(join(dir, "report.md"), renderTrialMarkdown(data.summary));
      summaries.push(data.summary);
      if (data.stale > 0)
        notes.push(
          `${t.name}: ${data.stale} score(s) judged an earlier completion and are left out; rerun with --phase score to rescore them`,
        );
      perItem.push({
        name: t.name,
        model: data.manifest.spec.model.id,
        group: data.manifest.spec.prompt_set.name,
        values: data.perItem,
        scored: data.scoredItems,
      });
    }
    predictionsCsv.commit();
    scoresCsv.commit();
  } finally {
    predictionsCsv.close();
    scoresCsv.close();
  }

  const compared = perItem.filter((p) => p.scored > 0);
  const mode = options.comparisons ?? manifest.stats.comparisons ?? "baseline";
  const comparisons = comparePairs(
    compared,
    mode === "all" ? allPairs(compared.length) : baselinePairs(compared, manifest.stats.baseline),
    {
      alpha: manifest.stats.alpha,
      iterations: manifest.stats.iterations,
      seed: manifest.stats.seed,
      confidence: manifest.stats.confidence,
    },
  ).map(roundComparison);
  const costs = buildCosts(summaries);
  const data: ExperimentReportData = {
    name: manifest.name,
    task: manifest.task.name,
    dataset: manifest.dataset.path,
    tool_version: VERSION,
    primary_scorer: summaries[0]?.primary_scorer ?? manifest.scorers[0] ?? "score",
    alpha: manifest.stats.alpha,
    trials: summaries,
    comparisons,
    costs,
  };
  const comparison = {
    alpha: manifest.stats.alpha,
    correction: "holm",
    pairs: mode,
    ...(mode === "baseline" && compared[0] ? { baseline: manifest.stats.baseline ?? compared[0].model } : {}),
    unit: "item",
    difference: "b_minus_a",
    comparisons,
  };
  writeJsonIfChanged(join(experimentDir, "comparison.json"), comparison);
  writeJsonIfChanged(join(experimentDir, "significance.json"), comparison);
  writeJsonIfChanged(join(experimentDir, "costs.json"), costs);
  const report = join(experimentDir, "report.md");
  writeIfChanged(report, renderExperimentMarkdown(data));
  writeIfChanged(join(experimentDir, "report.html"), renderExperimentHtml(data));
  return { report, summaries, comparisons, notes };
}

/** The CSV rows of one trial, from its rows as its summary reads them (completions are never all in memory). */
function csvRows(trial: TrialManifest, predictions: CsvFile, scores: CsvFile): RowSinks {
  const head = [trial.name, trial.spec.model.id, trial.spec.prompt_set.name];
  return {
    prediction: (p) => predictions.writeLine(predictionCsvLine(head, p)),
    score: (s, category) => scores.writeLine(scoreCsvLine(head, s, category)),
  };
}

const r6 = (x: number): number | null => (Number.isFinite(x) ? Number(x.toFixed(6)) : null);

/** JSON-friendly numbers: means and CIs to 6 decimals, NaN as null. */
function roundComparison(c: TrialComparison): TrialComparison {
  const out: Record<string, unknown> = { ...c };
  for (const key of ["mean_a", "mean_b", "diff", "ci_low", "ci_high"] as const) out[key] = r6(c[key]);
  // p-values keep full precision: rounding would turn 2^-39 into 0.
  for (const key of ["p_value", "p_adjusted"] as const) out[key] = Number.isFinite(c[key]) ? c[key] : null;
  return out as unknown as TrialComparison;
}
