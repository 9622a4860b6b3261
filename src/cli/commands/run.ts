import { Command, Option } from "commander";
import { PHASES, type PhaseSelection } from "../../pipeline/events.js";
import { collect, positiveInt } from "../options.js";
import {
  addSharedRunOptions,
  loadExperimentWith,
  resolveAndRun,
  type SharedRunFlags,
  sharedOverrides,
} from "../run-shared.js";

export function runCommand(): Command {
  const command = new Command("run")
    .summary("run an experiment: prompts → inference → execution → scores → reports")
    .description(
      "Run an experiment file (YAML or JSON). Every phase appends to JSONL files under <out>/<name>/<trial>/ and resumes on rerun: finished rows are never redone, rows whose last status is error are retried. Flags override the file without editing it.",
    )
    .argument("<config>", "experiment file (.yaml, .yml or .json)")
    .option(
      "-m, --model <spec>",
      "select a model by id, or add one by spec string (gold, echo, openai:gpt-4o-mini, ...); repeatable",
      collect,
    )
    .option("-p, --prompt-set <name>", "select a prompt set by name; repeatable", collect)
    .addOption(new Option("--phase <phase>", "run one phase only").choices(PHASES as string[]).default("all"))
    .option("--name <name>", "experiment name (directory under --out); default: the file's `name`")
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
    .option(
      "--verbose",
      "print each guided answer as it is written, coloured by who wrote it (oracle blue, base red; plain text when not a terminal or NO_COLOR is set)",
    )
    .option(
      "--queue <url>",
      "coordinate a distributed run: inference jobs go to `benchline worker`s through Redis (redis://host:port[/db])",
    )
    .option(
      "--allow-missing",
      "import: models: record dataset ids without a response as error rows instead of failing",
    );
  return addSharedRunOptions(command).action(async (config: string, flags: RunFlags) => {
    await resolveAndRun(
      await loadExperimentWith(config, flags.dataset),
      {
        ...sharedOverrides(flags),
        ...(flags.model ? { models: flags.model } : {}),
        ...(flags.promptSet ? { promptSets: flags.promptSet } : {}),
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.trialConcurrency !== undefined ? { trialConcurrency: flags.trialConcurrency } : {}),
        ...(flags.parts !== undefined ? { parts: flags.parts } : {}),
        ...(flags.part !== undefined ? { part: flags.part } : {}),
        ...(flags.allowMissing ? { allowMissing: true } : {}),
      },
      flags,
      flags.phase,
    );
  });
}

interface RunFlags extends SharedRunFlags {
  model?: string[];
  promptSet?: string[];
  phase: PhaseSelection;
  name?: string;
  trialConcurrency?: number;
  parts?: number;
  part?: number;
  allowMissing?: boolean;
  queue?: string;
}
