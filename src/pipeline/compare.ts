import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { DEFAULT_STATS } from "../report/index.js";
import { allPairs, comparePairs, type TrialComparison } from "../stats/index.js";
import { readJson } from "./json.js";
import type { ExperimentManifest } from "./phases/report.js";
import { loadTrialData, type TrialData } from "./trial-data.js";

export interface CompareOptions {
  alpha?: number;
  iterations?: number;
  seed?: number;
  /** Every pair of the given trials instead of each against the first (the baseline). */
  allPairs?: boolean;
}

/**
 * Paired comparisons between any trial directories, even from different experiments: each
 * trial's per-item primary score on the items they share, every trial against the first (the
 * baseline) or, with `allPairs`, every pair; Holm-corrected across the comparisons made.
 * A trial inside an experiment uses that experiment's limit and samples; a lone trial, all rows.
 */
export async function compareTrialDirs(
  dirs: string[],
  options: CompareOptions = {},
): Promise<{ trials: TrialData[]; comparisons: TrialComparison[] }> {
  const trials: TrialData[] = [];
  for (const dir of dirs) {
    const manifestPath = join(dirname(resolve(dir)), "experiment.json");
    const manifest = existsSync(manifestPath) ? readJson<ExperimentManifest>(manifestPath) : undefined;
    trials.push(
      await loadTrialData(dir, {
        limit: manifest?.limit ?? null,
        samples: manifest?.samples ?? null,
        stats: manifest?.stats ?? DEFAULT_STATS,
      }),
    );
  }
  // The same trial name can come from two experiments: label those by experiment too.
  const names = trials.map((t) => t.manifest.name);
  const label = (t: TrialData): string =>
    names.filter((n) => n === t.manifest.name).length > 1
      ? `${basename(dirname(resolve(t.dir)))}/${t.manifest.name}`
      : t.manifest.name;
  const comparisons = comparePairs(
    trials.map((t) => ({ name: label(t), values: t.perItem })),
    options.allPairs ? allPairs(trials.length) : trials.slice(1).map((_, i): [number, number] => [0, i + 1]),
    {
      alpha: options.alpha ?? DEFAULT_STATS.alpha,
      iterations: options.iterations ?? DEFAULT_STATS.iterations,
      seed: options.seed ?? DEFAULT_STATS.seed,
    },
  );
  return { trials, comparisons };
}
