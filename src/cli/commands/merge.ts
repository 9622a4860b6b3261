import { Command } from "commander";
import { mergeExperiments, relativeLabel, writeReports } from "../../pipeline/index.js";

export function mergeCommand(): Command {
  return new Command("merge")
    .summary("combine experiment directories (shards, per-repository runs) into one")
    .description(
      "Append the rows of each source experiment into --into, trial by trial (same directory name = same trial spec). A key keeps the destination's row unless it is missing or an error and a source has an ok one; nothing is rewritten. Reports are rebuilt afterwards.",
    )
    .argument("<experiment-dir...>", "source experiment directories (each holds experiment.json)")
    .requiredOption(
      "--into <dir>",
      "destination experiment directory (created if missing; may be one of the sources)",
    )
    .action(async (sources: string[], flags: { into: string }) => {
      const result = await mergeExperiments(sources, flags.into);
      for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
      const { report } = await writeReports(flags.into);
      const a = result.appended;
      process.stdout.write(
        `merged into ${relativeLabel(flags.into)}: ${result.trials} trial(s); appended ${a.prompts} prompts, ${a.predictions} predictions, ${a.executions} executions, ${a.scores} scores\nreport: ${relativeLabel(report)}\n`,
      );
    });
}
