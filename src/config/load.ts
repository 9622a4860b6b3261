import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { BenchlineError } from "../core/index.js";
import { parseDatasetArg, parseExperimentText } from "./parse.js";
import type { ExperimentFile } from "./schema.js";

export interface LoadedExperiment {
  file: ExperimentFile;
  /** Absolute path of the experiment file. */
  path: string;
  /** Directory relative paths in the file resolve against. */
  baseDir: string;
}

export interface LoadExperimentOptions {
  /**
   * `--dataset`: replaces the file's `dataset:` (a path relative to the working directory, not to
   * the file, or a hub id; see `parseDatasetArg` for the rule).
   */
  dataset?: string;
}

/** Reads and validates an experiment file (YAML or JSON). */
export function loadExperiment(path: string, options: LoadExperimentOptions = {}): LoadedExperiment {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory" : String(error);
    throw new BenchlineError("not_found", `${path}: ${reason}`, { cause: error });
  }
  const file = parseExperimentText(text, path);
  if (options.dataset !== undefined) {
    const named = parseDatasetArg(options.dataset, existsSync);
    file.dataset = "hub" in named ? named.hub : resolve(named.path);
  }
  return { file, path: absolute, baseDir: dirname(absolute) };
}
