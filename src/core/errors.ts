/**
 * Fatal errors. Per-row problems are values (rows with `status: "error"`), never exceptions.
 * Only `cli/` prints a BenchlineError: one line, and the exit code its `code` maps to.
 */
export type ErrorCode =
  | "usage" // bad flags or arguments
  | "config" // experiment file does not validate
  | "input" // dataset, predictions or responses file is unreadable or malformed
  | "not_found" // unknown provider, task, scorer or missing file
  | "io" // the file system refused (disk full, permissions, a file where a directory belongs)
  | "internal";

export class BenchlineError extends Error {
  override readonly name = "BenchlineError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Exit code for an error: 2 for usage/config/input/io problems, 1 for everything else. */
export function exitCodeFor(error: unknown): 1 | 2 {
  if (error instanceof BenchlineError && error.code !== "internal") return 2;
  return 1;
}

/** A per-row error as stored in records: `{code, message}`. */
export interface RowError {
  code: string;
  message: string;
}

export function toRowError(error: unknown, fallbackCode = "error"): RowError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : fallbackCode, message: error.message };
  }
  return { code: fallbackCode, message: String(error) };
}
