import { existsSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { BenchlineError, type JsonlLine, readJsonl, rowKey } from "../core/index.js";

/** The files of one trial directory (DESIGN.md, Run layout). */
export function trialFiles(dir: string) {
  return {
    dir,
    trial: join(dir, "trial.json"),
    prompts: join(dir, "prompts.jsonl"),
    predictions: join(dir, "predictions.jsonl"),
    executions: join(dir, "executions.jsonl"),
    scores: join(dir, "scores.jsonl"),
    summary: join(dir, "summary.json"),
    report: join(dir, "report.md"),
  };
}
export type TrialFiles = ReturnType<typeof trialFiles>;

/**
 * `root/name` for a directory name read from data (a trial listed in experiment.json): one path
 * segment, so nothing built from it can land outside `root`.
 */
export function childDir(root: string, name: string, label: string): string {
  if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name))
    throw new BenchlineError("input", `${label}: "${name}" is not a directory name inside ${root}`);
  return join(root, name);
}

/**
 * The last row for each key of a JSONL file (the rule "last row wins"), keeping only what `pick`
 * extracts so memory holds what the caller needs, not whole rows. A missing file is empty.
 */
export async function lastByKey<T extends { id: string; sample: number }, V>(
  path: string,
  schema: z.ZodType<T>,
  pick: (row: T, line: JsonlLine<T>) => V,
  key: (row: T) => string = (row) => rowKey(row.id, row.sample),
): Promise<Map<string, V>> {
  const out = new Map<string, V>();
  if (!existsSync(path)) return out;
  for await (const line of readJsonl(path, { schema })) out.set(key(line.value), pick(line.value, line));
  return out;
}

/** Streams only the rows that are the last for their key (two passes; memory is one number a key). */
export async function* latestRows<T extends { id: string; sample: number }>(
  path: string,
  schema: z.ZodType<T>,
): AsyncGenerator<T> {
  const lastLine = await lastByKey(path, schema, (_row, line) => line.line);
  if (lastLine.size === 0) return;
  for await (const { value, line } of readJsonl(path, { schema })) {
    if (lastLine.get(rowKey(value.id, value.sample)) === line) yield value;
  }
}
