import { contentHash, type Task } from "../core/index.js";

/**
 * Identity helper that types a task definition.
 *
 * @example
 * export const trivia = defineTask({
 *   name: "trivia",
 *   description: "Short factual questions",
 *   row: z.object({ q: z.string(), a: z.string() }),
 *   defaultPrompts: { plain: { user: "{{q}}" } },
 *   defaultScorers: ["exact"],
 *   toSample: (row, line) => ({ id: idFor(row, undefined), input: { q: row.q }, target: row.a }),
 *   reference: (sample) => String(sample.target),
 *   parse: (completion) => completion.trim(),
 * });
 */
export function defineTask<Row, Options = Record<string, never>, Artifact = unknown>(
  task: Task<Row, Options, Artifact>,
): Task<Row, Options, Artifact> {
  return task;
}

/** The dataset's id when it has one, else a stable content hash of the row (never random). */
export function idFor(row: unknown, id: string | number | undefined): string {
  if (id !== undefined && id !== "") return String(id);
  return `h${contentHash(row, 12)}`;
}
