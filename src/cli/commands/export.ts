import { Command } from "commander";
import { loadExperiment } from "../../config/index.js";
import { exportPrompts, relativeLabel, resolveExperiment } from "../../pipeline/index.js";
import { downloadReporter } from "../downloads.js";
import { positiveInt } from "../options.js";

export function exportCommand(): Command {
  return new Command("export")
    .summary("write the prompts for offline inference (no model is run)")
    .description(
      "Write one JSON line per unique dataset item, {id, prompt, system, user, messages}, for running a model elsewhere (a GPU box without network, a batch API). `prompt` is the full text a completion model would see; `messages` the chat form. Bring the completions back with `benchline import`.",
    )
    .argument("<config>", "experiment file")
    .requiredOption("-o, --output <file>", "where to write the prompts (JSON Lines)")
    .option("-p, --prompt-set <name>", "prompt set to export (required when the file has several)")
    .option("-l, --limit <n>", "only the first N dataset items", positiveInt)
    .option("--parts <k>", "split the dataset into K disjoint shards (with --part)", positiveInt)
    .option("--part <i>", "export shard i of --parts (1-based)", positiveInt)
    .option("--force", "overwrite an existing output file (never the experiment's dataset or config)")
    .option("--offline", "hub datasets (hf:…) from the cache only, as HF_HUB_OFFLINE=1")
    .action(
      async (
        config: string,
        flags: {
          output: string;
          promptSet?: string;
          limit?: number;
          parts?: number;
          part?: number;
          force?: boolean;
          offline?: boolean;
        },
      ) => {
        const exp = await resolveExperiment(loadExperiment(config), {
          ...(flags.promptSet ? { promptSets: [flags.promptSet] } : {}),
          ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
          ...(flags.parts !== undefined ? { parts: flags.parts } : {}),
          ...(flags.part !== undefined ? { part: flags.part } : {}),
          ...(flags.offline ? { offline: true } : {}),
          onDownload: downloadReporter("auto"),
          // Export runs no model: any one model selects the trials' prompt sets.
          modelSpecs: [{ id: "export", provider: "echo", params: {}, options: {} }],
        });
        const n = await exportPrompts(exp, flags.output, { force: flags.force ?? false });
        process.stdout.write(`wrote ${n} prompt(s) to ${relativeLabel(flags.output)}\n`);
      },
    );
}
