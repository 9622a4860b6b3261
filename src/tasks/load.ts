import { extname } from "node:path";
import { BenchlineError, readJsonl, type Sample, type Task } from "../core/index.js";

export interface LoadSamplesOptions {
  /** Display name for messages (the path as the user wrote it). */
  label: string;
  limit?: number;
}

/**
 * Reads a JSONL dataset through the task's row schema. Every problem is an `input` error naming
 * `file:line`: a line that is not JSON, a row that does not fit the task, an id seen before (both
 * lines are named). Reads the whole file even with `limit`, so a bad line is never silently kept.
 */
export interface Dataset {
  /** The samples in file order (the first `limit`). */
  samples: Sample[];
  /** Line of each loaded sample's row, for messages. */
  lines: Map<string, number>;
  /** 0-based position of each loaded sample among the dataset's rows (its order, for `limit`). */
  index: Map<string, number>;
  /** Rows in the file (before `limit`). */
  total: number;
}

export async function loadSamples(
  task: Task<unknown, unknown>,
  path: string,
  options: LoadSamplesOptions,
): Promise<Dataset> {
  if (extname(path) === ".json") {
    throw new BenchlineError(
      "input",
      `${options.label}: datasets are JSON Lines (one object per line); convert the JSON array to .jsonl`,
    );
  }
  const seen = new Map<string, number>();
  const samples: Sample[] = [];
  for await (const { value, line } of readJsonl(path, {
    schema: task.row,
    label: options.label,
    onTorn: (l) => {
      throw new BenchlineError("input", `${options.label}:${l}: incomplete last line (not valid JSON)`);
    },
  })) {
    const sample = task.toSample(value, line);
    const first = seen.get(sample.id);
    if (first !== undefined) {
      throw new BenchlineError(
        "input",
        `${options.label}:${line}: duplicate id "${sample.id}" (first at ${options.label}:${first})`,
      );
    }
    seen.set(sample.id, line);
    if (options.limit === undefined || samples.length < options.limit) samples.push(sample);
  }
  if (seen.size === 0) throw new BenchlineError("input", `${options.label}: the dataset has no rows`);
  const lines = new Map<string, number>();
  const index = new Map<string, number>();
  for (const [i, s] of samples.entries()) {
    lines.set(s.id, seen.get(s.id) as number);
    index.set(s.id, i);
  }
  return { samples, lines, index, total: seen.size };
}
