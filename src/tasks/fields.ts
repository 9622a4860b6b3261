import { z } from "zod";
import { BenchlineError, type Task } from "../core/index.js";

/**
 * `fields: {task: instruction, …}` of an experiment file: a task field read from a dataset column
 * of another name. Every key must be a field of the task's rows (else a config error naming it).
 */
export type FieldMap = Record<string, string>;

/** The fields a task's rows have (its row schema's keys), when the schema is an object. */
export function rowFields(task: Task<unknown, unknown>): string[] | undefined {
  const shape = (task.row as unknown as { shape?: Record<string, unknown> }).shape;
  return shape && typeof shape === "object" ? Object.keys(shape) : undefined;
}

/** Checks `fields` against the task; errors name `where` (`exp.yaml: fields.task`). */
export function checkFieldMap(task: Task<unknown, unknown>, fields: FieldMap, where: string): void {
  const known = rowFields(task);
  if (!known)
    throw new BenchlineError(
      "config",
      `${where}: task "${task.name}" does not list its row fields, so fields cannot map them`,
    );
  for (const [field, column] of Object.entries(fields)) {
    if (!known.includes(field))
      throw new BenchlineError(
        "config",
        `${where}.${field}: "${field}" is not a field of task "${task.name}" (fields: ${known.join(", ")})`,
      );
    if (typeof column !== "string" || column.length === 0)
      throw new BenchlineError("config", `${where}.${field}: expected the name of a dataset column`);
  }
}

/**
 * The task's row schema behind the mapping: each mapped field takes its column's value. A row
 * without a column that a required field is mapped from is an error naming both.
 */
export function mappedRowSchema(task: Task<unknown, unknown>, fields: FieldMap): z.ZodType<unknown> {
  const shape = (task.row as unknown as { shape: Record<string, z.ZodType> }).shape;
  const required = new Set(
    Object.keys(fields).filter((field) => !shape[field]?.safeParse(undefined).success),
  );
  return z
    .unknown()
    .transform((row, ctx) => {
      if (row === null || typeof row !== "object" || Array.isArray(row)) return row;
      const source = row as Record<string, unknown>;
      const out: Record<string, unknown> = { ...source };
      for (const [field, column] of Object.entries(fields)) {
        if (source[column] === undefined) {
          if (required.has(field)) {
            ctx.addIssue({
              code: "custom",
              path: [column],
              message: `no column "${column}" (fields.${field} reads it)`,
            });
            return z.NEVER;
          }
          delete out[field];
        } else out[field] = source[column];
      }
      return out;
    })
    .pipe(task.row);
}
