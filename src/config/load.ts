import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { BenchlineError } from "../core/index.js";
import { parseExperimentText } from "./parse.js";
import type { ExperimentFile } from "./schema.js";

export interface LoadedExperiment {
  file: ExperimentFile;
  /** Absolute path of the experiment file. */
  path: string;
  /** Directory relative paths in the file resolve against. */
  baseDir: string;
}

/** Reads and validates an experiment file (YAML or JSON). */
export function loadExperiment(path: string): LoadedExperiment {
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
  return { file: parseExperimentText(text, path), path: absolute, baseDir: dirname(absolute) };
}
