import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { BenchlineError } from "../../core/index.js";
import { relativeLabel, writeReports } from "../../pipeline/index.js";

export function reportCommand(): Command {
  return new Command("report")
    .summary("rebuild summaries and reports of an experiment from its files")
    .description(
      "Rebuild every trial's summary.json and report.md, and the experiment's report, from the JSONL files alone (no model, no config file needed).",
    )
    .argument("<experiment-dir>", "an experiment directory (holds experiment.json)")
    .action(async (dir: string) => {
      if (!existsSync(join(dir, "experiment.json"))) {
        throw new BenchlineError("usage", `${dir}: not an experiment directory (no experiment.json)`);
      }
      const { report, summaries } = await writeReports(dir);
      for (const s of summaries) {
        const mean = s.mean_score === null ? "–" : `${(s.mean_score * 100).toFixed(1)}%`;
        process.stdout.write(`${s.trial}: ${s.primary_scorer} ${mean}, ${s.errors.count} error(s)\n`);
      }
      process.stdout.write(`report: ${relativeLabel(report)}\n`);
    });
}
