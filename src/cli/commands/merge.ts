import { existsSync, rmdirSync } from "node:fs";
import { Command } from "commander";
import type { MergeResult } from "../../pipeline/index.js";

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
    .option("--wait", "if another process is writing into --into, wait for it instead of exiting (code 4)")
    .action(async (sources: string[], flags: { into: string; wait?: boolean }) => {
      // Merge writes every trial of the destination and its experiment.json: it holds them all.
      const [{ mergeExperiments, relativeLabel, writeReports }, { lockExperiment }] = await Promise.all([
        import("../../pipeline/index.js"),
        import("../lock.js"),
      ]);
      const existed = existsSync(flags.into);
      const lock = await lockExperiment(flags.into, flags.wait ?? false);
      let result: MergeResult;
      let report: string;
      try {
        result = await mergeExperiments(sources, flags.into);
        for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
        ({ report } = await writeReports(flags.into));
      } finally {
        lock.release();
        // A merge that failed its checks leaves no empty destination behind.
        if (!existed) {
          try {
            rmdirSync(flags.into);
          } catch {}
        }
      }
      const a = result.appended;
      process.stdout.write(
        `merged into ${relativeLabel(flags.into)}: ${result.trials} trial(s); appended ${a.prompts} prompts, ${a.predictions} predictions, ${a.executions} executions, ${a.scores} scores\nreport: ${relativeLabel(report)}\n`,
      );
    });
}
