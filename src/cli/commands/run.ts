import { Command, Option } from "commander";
import { loadExperiment } from "../../config/index.js";
import {
  PHASES,
  type PhaseSelection,
  relativeLabel,
  resolveExperiment,
  runExperiment,
} from "../../pipeline/index.js";
import { collect, interruptSignal, logOption, positiveInt } from "../options.js";
import { createReporter, type LogFormat } from "../progress.js";

export function runCommand(): Command {
  return new Command("run")
    .summary("run an experiment: prompts → inference → execution → scores → reports")
    .description(
      `Run an experiment file (YAML or JSON). Every phase appends to JSONL files under
<out>/<name>/<trial>/ and resumes on rerun: finished rows are never redone, rows whose last
status is "error" are retried. Flags override the file without editing it.`,
    )
    .argument("<config>", "experiment file (.yaml, .yml or .json)")
    .option(
      "-m, --model <spec>",
      "select a model by id, or add one by spec string (gold, echo, ...); repeatable",
      collect,
    )
    .option("-p, --prompt-set <name>", "select a prompt set by name; repeatable", collect)
    .option("-l, --limit <n>", "only the first N dataset items", positiveInt)
    .option("-n, --samples <n>", "completions per item (sample 0..n-1)", positiveInt)
    .addOption(new Option("--phase <phase>", "run one phase only").choices(PHASES as string[]).default("all"))
    .option("-o, --out <dir>", "output root (default: the file's `out`, else ./runs)")
    .option("--name <name>", "experiment name (directory under --out); default: the file's `name`")
    .option("-c, --concurrency <n>", "requests in flight per trial", positiveInt)
    .option(
      "--trial-concurrency <n>",
      "trials run at the same time (default: the file's trial_concurrency, else 1)",
      positiveInt,
    )
    .option("--parts <k>", "split the dataset into K disjoint shards (with --part)", positiveInt)
    .option(
      "--part <i>",
      "run shard i of --parts (1-based); shards land in the same experiment directory",
      positiveInt,
    )
    .option("--no-retry-errors", "keep rows whose last status is error instead of retrying them")
    .addOption(logOption())
    .action(async (config: string, flags: RunFlags) => {
      const loaded = loadExperiment(config);
      const exp = await resolveExperiment(loaded, {
        ...(flags.model ? { models: flags.model } : {}),
        ...(flags.promptSet ? { promptSets: flags.promptSet } : {}),
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
        ...(flags.samples !== undefined ? { samples: flags.samples } : {}),
        ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
        ...(flags.out !== undefined ? { out: flags.out } : {}),
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.trialConcurrency !== undefined ? { trialConcurrency: flags.trialConcurrency } : {}),
        ...(flags.parts !== undefined ? { parts: flags.parts } : {}),
        ...(flags.part !== undefined ? { part: flags.part } : {}),
      });
      for (const warning of exp.warnings) process.stderr.write(`warning: ${warning}\n`);
      const report = createReporter(flags.log);
      const interrupt = interruptSignal(() =>
        process.stderr.write("\ninterrupting: finishing in-flight rows… (Ctrl-C again to quit at once)\n"),
      );
      try {
        const result = await runExperiment(exp, {
          phase: flags.phase,
          retryErrors: flags.retryErrors,
          signal: interrupt.signal,
          onEvent: report,
        });
        if (result.interrupted) {
          process.stderr.write(
            `interrupted: completed rows are saved in ${relativeLabel(result.dir)}; run the same command to resume\n`,
          );
          process.exitCode = 130;
          return;
        }
        process.stdout.write(`report: ${relativeLabel(result.report)}\n`);
      } finally {
        interrupt.dispose();
      }
    });
}

interface RunFlags {
  model?: string[];
  promptSet?: string[];
  limit?: number;
  samples?: number;
  phase: PhaseSelection;
  out?: string;
  name?: string;
  concurrency?: number;
  trialConcurrency?: number;
  parts?: number;
  part?: number;
  retryErrors: boolean;
  log: LogFormat;
}
