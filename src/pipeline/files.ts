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

/**
 * Streams only the rows that are the last for their key (two passes; memory is one number a key).
 * Only the rows yielded are validated against `schema` (an error names `file:line`): a row
 * superseded by a later one for its key is never read by anyone, and validating every row of
 * every pass was most of the cost of scoring and reports.
 */
export async function* latestRows<T extends { id: string; sample: number }>(
  path: string,
  schema: z.ZodType<T>,
): AsyncGenerator<T> {
  if (!existsSync(path)) return;
  type Keyed = { id?: unknown; sample?: unknown } | null;
  const keyOf = (row: Keyed, line: number): string => {
    if (
      row === null ||
      typeof row !== "object" ||
      typeof row.id !== "string" ||
      !Number.isInteger(row.sample)
    )
      throw new BenchlineError(
        "input",
        `${path}:${line}: expected a row with a string id and an integer sample`,
      );
    return rowKey(row.id, row.sample as number);
  };
  const lastLine = new Map<string, number>();
  for await (const { value, line } of readJsonl<Keyed>(path)) lastLine.set(keyOf(value, line), line);
  if (lastLine.size === 0) return;
  for await (const { value, line } of readJsonl<Keyed>(path)) {
    if (lastLine.get(keyOf(value, line)) !== line) continue;
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new BenchlineError("input", `${path}:${line}: ${formatIssues(parsed.error.issues)}`, {
        cause: parsed.error,
      });
    yield parsed.data;
  }
}
