import { Command, CommanderError } from "commander";
// Only what defining the commands needs is imported here: each command loads the library when it
// runs (`benchline --help` never loads zod, undici or the pipeline).
import { BenchlineError, exitCodeFor } from "../core/errors.js";
import { fsErrorToBenchline } from "../core/fs-errors.js";
import { VERSION } from "../pipeline/version.js";
import { analyzeCommand } from "./commands/analyze.js";
import { compareCommand } from "./commands/compare.js";
import { convertCommand } from "./commands/convert.js";
import { exportCommand } from "./commands/export.js";
import { executeCommand, importCommand } from "./commands/import.js";
import { mergeCommand } from "./commands/merge.js";
import { reportCommand } from "./commands/report.js";
import { runCommand } from "./commands/run.js";
import { viewCommand } from "./commands/view.js";
import { workerCommand } from "./commands/worker.js";

export function buildProgram(): Command {
  const program = new Command("benchline")
    .description(
      `Evaluate language models with inference and evaluation as separate, resumable phases.

Every phase writes JSON Lines under runs/<experiment>/<trial>/ (prompts, predictions, executions, scores) and a rerun resumes where it stopped.`,
    )
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const command of [
    runCommand(),
    exportCommand(),
    importCommand(),
    executeCommand(),
    reportCommand(),
    compareCommand(),
    mergeCommand(),
    convertCommand(),
    analyzeCommand(),
    viewCommand(),
    workerCommand(),
  ]) {
    program.addCommand(command.exitOverride().showHelpAfterError("(run with --help for usage)"));
  }
  return program;
}

/** The one place that decides how errors print and which exit code a run ends with. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (thrown) {
    // The file system's refusals (a full disk, an immutable file, a file where a directory
    // belongs) are one line naming the path, like any other bad input.
    const error = fsErrorToBenchline(thrown) ?? thrown;
    if (error instanceof CommanderError) {
      // Commander has printed its message (or the help/version) already.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof BenchlineError) {
      process.stderr.write(`benchline: ${error.message}\n`);
      if (process.env.BENCHLINE_DEBUG && error.stack) process.stderr.write(`${error.stack}\n`);
      return exitCodeFor(error);
    }
    process.stderr.write(
      `benchline: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}
