import { existsSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { Command } from "commander";
import {
  addSharedRunOptions,
  loadExperimentWith,
  resolveAndRun,
  type SharedRunFlags,
  sharedOverrides,
} from "../run-shared.js";

interface ImportFlags extends SharedRunFlags {
  responses?: string;
  predictions?: string;
  name?: string;
  promptSet?: string;
  allowMissing?: boolean;
}

/** `import` and `execute` differ only in wording: both evaluate predictions made elsewhere. */
function offlineCommand(name: "import" | "execute"): Command {
  const fileFlag = name === "import" ? "responses" : "predictions";
  const command = new Command(name)
    .summary(
      name === "import"
        ? "evaluate completions produced elsewhere, exactly as for a live model"
        : "execute and score a predictions file produced elsewhere (no model is called)",
    )
    .description(
      name === "import"
        ? 'Read {id, completion} lines (several lines with one id are that id\'s samples, in file order), or Batch API output lines ({custom_id: "<id>#<sample>", response: {body: {choices}}}, as `vllm run-batch` writes for `benchline export --format openai-batch`; failed lines are skipped), and run the full evaluation — parsing, execution, scoring, reports — as for a live model. Every dataset item needs `samples` completions; ids not in the dataset are ignored with a warning.'
        : "Execute predictions made elsewhere in fresh sandboxes, then score and report. Accepts benchline predictions.jsonl rows, {id, completion} lines, a shell-task commands.jsonl of {task_id|id, generated_command}, SWE-bench predictions ({instance_id, model_name_or_path, model_patch}; .jsonl, or a .json list) and EditBench results ({instance_id, full_output, model_patch, ...}; an EditBench file name {dataset}_{run_id}.jsonl picks the prompt set {run_id}). `--predictions gold` runs the dataset's reference answers.",
    )
    .argument("<config>", "experiment file (task, dataset, prompt set, scorers, execution)")
    .requiredOption(
      `--${fileFlag} <file>`,
      name === "import"
        ? "JSON Lines of {id, completion} or Batch API output"
        : "predictions or commands (JSON Lines)",
    )
    .option("--name <name>", "model name for the imported predictions (default: import:<file name>)")
    .option("-p, --prompt-set <name>", "prompt set the completions answered (default: the file's first)")
    .option("--allow-missing", "record dataset ids without a response as error rows instead of failing");
  return addSharedRunOptions(command).action(async (config: string, flags: ImportFlags) => {
    const loaded = await loadExperimentWith(config, flags.dataset);
    const given = (flags.responses ?? flags.predictions)!;
    const path = resolve(given);
    // SWE-bench's `--predictions_path gold`: the reference answers, when no file has that name.
    const gold = name === "execute" && given === "gold" && !existsSync(path);
    const promptSet = flags.promptSet ?? Object.keys(loaded.file.prompts ?? {})[0];
    await resolveAndRun(
      loaded,
      {
        ...sharedOverrides(flags),
        modelSpecs: [
          gold
            ? { id: flags.name ?? "gold", provider: "gold", params: {}, options: {} }
            : {
                id: flags.name ?? `import:${basename(path)}`,
                provider: "import",
                model: path,
                params: {},
                options: {},
              },
        ],
        ...(promptSet ? { promptSets: [promptSet] } : {}),
        ...(flags.allowMissing ? { allowMissing: true } : {}),
      },
      flags,
      "all",
      // Completions answer one prompt set: the chosen one, else the one an EditBench results file
      // names (`{dataset}_{run_id}.jsonl`), else the first.
      (exp) => {
        const stem = basename(path, extname(path));
        const named = flags.promptSet
          ? undefined
          : exp.trials
              .filter((t) => stem.endsWith(`_${t.spec.prompt_set.name}`))
              .sort((a, b) => b.spec.prompt_set.name.length - a.spec.prompt_set.name.length)[0];
        exp.trials = named ? [named] : exp.trials.slice(0, 1);
      },
    );
  });
}

export const importCommand = (): Command => offlineCommand("import");
export const executeCommand = (): Command => offlineCommand("execute");
