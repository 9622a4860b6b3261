import { Command, Option } from "commander";
import type { ExperimentFile } from "../../config/index.js";
import { BenchlineError } from "../../core/errors.js";
import type { ModelSpec } from "../../core/index.js";
import { checkReporter, downloadReporter } from "../downloads.js";
import { positiveInt } from "../options.js";
import { DATASET_OPTION_HELP, loadExperimentWith } from "../run-shared.js";

export function exportCommand(): Command {
  return new Command("export")
    .summary("write the prompts for offline inference (no model is run)")
    .description(
      "Write one JSON line per unique dataset item, {id, prompt, system, user, messages}, for running a model elsewhere (a GPU box without network, a batch API). `prompt` is the full text a completion model would see; `messages` the chat form. Bring the completions back with `benchline import`.",
    )
    .argument("<config>", "experiment file")
    .requiredOption("-o, --output <file>", "where to write the prompts (JSON Lines)")
    .option("--dataset <path|hub-id>", DATASET_OPTION_HELP)
    .option("-p, --prompt-set <name>", "prompt set to export (required when the file has several)")
    .option("-l, --limit <n>", "only the first N dataset items", positiveInt)
    .option("--parts <k>", "split the dataset into K disjoint shards (with --part)", positiveInt)
    .option("--part <i>", "export shard i of --parts (1-based)", positiveInt)
    .option("--force", "overwrite an existing output file (never the experiment's dataset or config)")
    .addOption(
      new Option(
        "--format <format>",
        "prompts: {id, prompt, ...} lines; openai-batch: a Batch API request file",
      )
        .choices(["prompts", "openai-batch"])
        .default("prompts"),
    )
    .option(
      "-m, --model <id>",
      "openai-batch: the model entry whose name and params fill the bodies (default: the first)",
    )
    .option(
      "-n, --samples <n>",
      "openai-batch: requests per item (sample 0..n-1; default: the file's samples)",
      positiveInt,
    )
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
          format: "prompts" | "openai-batch";
          model?: string;
          samples?: number;
          offline?: boolean;
          dataset?: string;
        },
      ) => {
        const { exportPrompts, relativeLabel, resolveExperiment } = await import("../../pipeline/index.js");
        const loaded = await loadExperimentWith(config, flags.dataset);
        if (flags.format !== "openai-batch" && (flags.model !== undefined || flags.samples !== undefined))
          throw new BenchlineError("usage", "--model and --samples apply to --format openai-batch only");
        const batchModel =
          flags.format === "openai-batch"
            ? chooseModel(
                loaded.file.models,
                flags.model,
                (await import("../../config/index.js")).modelSpecFromEntry,
              )
            : undefined;
        const exp = await resolveExperiment(loaded, {
          ...(flags.samples !== undefined ? { samples: flags.samples } : {}),
          ...(flags.promptSet ? { promptSets: [flags.promptSet] } : {}),
          ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
          ...(flags.parts !== undefined ? { parts: flags.parts } : {}),
          ...(flags.part !== undefined ? { part: flags.part } : {}),
          ...(flags.offline ? { offline: true } : {}),
          onDownload: downloadReporter("auto"),
          onCheck: checkReporter("auto"),
          // Export runs no model: any one model selects the trials' prompt sets.
          modelSpecs: [{ id: "export", provider: "echo", params: {}, options: {} }],
        });
        const n = await exportPrompts(exp, flags.output, {
          force: flags.force ?? false,
          ...(batchModel ? { batchModel } : {}),
        });
        const what = batchModel ? "batch request(s)" : "prompt(s)";
        process.stdout.write(`wrote ${n} ${what} to ${relativeLabel(flags.output)}\n`);
      },
    );
}

/** The model entry `id` names (default: the first), for the bodies of an openai-batch export. */
function chooseModel(
  entries: ExperimentFile["models"],
  id: string | undefined,
  modelSpecFromEntry: (entry: ExperimentFile["models"][number]) => ModelSpec,
): ModelSpec {
  const specs = entries.map(modelSpecFromEntry);
  const spec = id === undefined ? specs[0] : specs.find((s) => s.id === id);
  if (!spec)
    throw new BenchlineError(
      "usage",
      `--model ${id}: no model with that id in the file (it has: ${specs.map((s) => s.id).join(", ")})`,
    );
  return spec;
}
