import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { BenchlineError } from "../../core/errors.js";

export function reportCommand(): Command {
  return new Command("report")
    .summary("rebuild summaries and reports of an experiment from its files")
    .description(
      "Rebuild every trial's summary.json and report.md, and the experiment's report, from the JSONL files alone (no model, no config file needed).",
    )
    .argument("<experiment-dir>", "an experiment directory (holds experiment.json)")
    .option(
      "--all-pairs",
      "compare every pair of trials (default: the file's stats.comparisons, else each against the baseline model)",
    )
    .action(async (dir: string, flags: { allPairs?: boolean }) => {
      if (!existsSync(join(dir, "experiment.json"))) {
        throw new BenchlineError("usage", `${dir}: not an experiment directory (no experiment.json)`);
      }
      const { relativeLabel, writeReports } = await import("../../pipeline/index.js");
      const { report, summaries, notes } = await writeReports(
        dir,
        flags.allPairs ? { comparisons: "all" } : {},
      );
      for (const note of notes) process.stderr.write(`warning: ${note}\n`);
      for (const s of summaries) {
        const mean = s.mean_score === null ? "–" : `${(s.mean_score * 100).toFixed(1)}%`;
        const scored = s.scorers[s.primary_scorer]?.n ?? 0;
        const expected = s.items * s.samples_per_item;
        process.stdout.write(
          `${s.trial}: ${s.primary_scorer} ${mean}, ${s.errors.count} error(s), ${scored}/${expected} prediction(s) scored\n`,
        );
      }
      process.stdout.write(`report: ${relativeLabel(report)}\n`);
    });
}
