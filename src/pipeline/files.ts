import { existsSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { BenchlineError, formatIssues, type JsonlLine, readJsonl, rowKey } from "../core/index.js";

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

type Keyed = { id?: unknown; sample?: unknown; status?: unknown } | null;

/**
 * Every row of a `(id, sample)`-keyed JSONL file with its key (`rowKey`, or `keyOf(row)`), parsed
 * but not validated (a row without a string id and an integer sample is an error naming `file:line`).
 */
export async function* keyedRows<R = Keyed>(
  path: string,
  keyOf?: (row: R) => string,
): AsyncGenerator<{ key: string; row: R; line: number }> {
  if (!existsSync(path)) return;
  for await (const { value: raw, line } of readJsonl<R>(path)) {
    const value = raw as Keyed;
    if (
      value === null ||
      typeof value !== "object" ||
      typeof value.id !== "string" ||
      !Number.isInteger(value.sample)
    )
      throw new BenchlineError(
        "input",
        `${path}:${line}: expected a row with a string id and an integer sample`,
      );
    yield { key: keyOf ? keyOf(raw) : rowKey(value.id, value.sample as number), row: raw, line };
  }
}

/** The line number of the last row of each key (one pass, no validation). */
export async function lastLines(path: string): Promise<Map<string, number>> {
  const last = new Map<string, number>();
  for await (const { key, line } of keyedRows(path)) last.set(key, line);
  return last;
}

/**
 * Streams only the rows that are the last for their key (two passes; memory is one number a key;
 * `last` skips the first when the caller has the lines already). Only the rows yielded are
 * validated against `schema`, an error naming `file:line` — a row superseded by a later one is
 * never read — and `validate: false` skips that too, for a file validated moments ago.
 */
export async function* latestRows<T extends { id: string; sample: number }>(
  path: string,
  schema: z.ZodType<T>,
  options: { last?: Map<string, number>; validate?: boolean } = {},
): AsyncGenerator<T> {
  const last = options.last ?? (await lastLines(path));
  if (last.size === 0) return;
  for await (const { key, row, line } of keyedRows(path)) {
    if (last.get(key) !== line) continue;
    if (options.validate === false) {
      yield row as unknown as T;
      continue;
    }
    const parsed = schema.safeParse(row);
    if (!parsed.success)
      throw new BenchlineError("input", `${path}:${line}: ${formatIssues(parsed.error.issues)}`, {
        cause: parsed.error,
      });
    yield parsed.data;
  }
}
