import { basename, resolve } from "node:path";
import { Command } from "commander";
import { loadExperiment } from "../../config/index.js";
import { relativeLabel, resolveExperiment, runExperiment } from "../../pipeline/index.js";
import { interruptSignal, logOption, positiveInt } from "../options.js";
import { createReporter, type LogFormat } from "../progress.js";

export function importCommand(): Command {
  return new Command("import")
    .summary("evaluate completions produced elsewhere, exactly as for a live model")
    .description(
      "Read {id, completion} lines (several lines with one id are that id's samples, in file order) and run the full evaluation — parsing, execution, scoring, reports — as for a live model. Every dataset item needs `samples` completions; ids not in the dataset are ignored with a warning.",
    )
    .argument("<config>", "experiment file (task, dataset, prompt set, scorers)")
    .requiredOption("-r, --responses <file>", "JSON Lines of {id, completion}")
    .option("--name <name>", "model name for the imported predictions (default: import:<file name>)")
    .option("-p, --prompt-set <name>", "prompt set the completions answered (default: the file's first)")
    .option("-o, --out <dir>", "output root (default: the file's `out`, else ./runs)")
    .option("-l, --limit <n>", "only the first N dataset items", positiveInt)
    .option("-n, --samples <n>", "completions per item", positiveInt)
    .option("--allow-missing", "record dataset ids without a response as error rows instead of failing")
    .addOption(logOption())
    .action(async (config: string, flags: ImportFlags) => {
      const loaded = loadExperiment(config);
      const path = resolve(flags.responses);
      const prompts = Object.keys(loaded.file.prompts ?? {});
      const promptSet = flags.promptSet ?? prompts[0];
      const exp = await resolveExperiment(loaded, {
        modelSpecs: [
          {
            id: flags.name ?? `import:${basename(path)}`,
            provider: "import",
            model: path,
            params: {},
            options: {},
          },
        ],
        ...(promptSet ? { promptSets: [promptSet] } : {}),
        ...(flags.out !== undefined ? { out: flags.out } : {}),
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
        ...(flags.samples !== undefined ? { samples: flags.samples } : {}),
        ...(flags.allowMissing ? { allowMissing: true } : {}),
      });
      // Completions answer one prompt set: the chosen one, else the first.
      exp.trials = exp.trials.slice(0, 1);
      for (const warning of exp.warnings) process.stderr.write(`warning: ${warning}\n`);
      const interrupt = interruptSignal(() =>
        process.stderr.write("\ninterrupting… (Ctrl-C again to quit at once)\n"),
      );
      try {
        const result = await runExperiment(exp, {
          signal: interrupt.signal,
          onEvent: createReporter(flags.log),
        });
        if (result.interrupted) {
          process.exitCode = 130;
          return;
        }
        process.stdout.write(`report: ${relativeLabel(result.report)}\n`);
      } finally {
        interrupt.dispose();
      }
    });
}

interface ImportFlags {
  responses: string;
  name?: string;
  promptSet?: string;
  out?: string;
  limit?: number;
  samples?: number;
  allowMissing?: boolean;
  log: LogFormat;
}
