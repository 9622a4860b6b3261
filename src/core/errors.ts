/**
 * Fatal errors. Per-row problems are values (rows with `status: "error"`), never exceptions.
 * Only `cli/` prints a BenchlineError: one line, and the exit code its `code` maps to.
 */
export type ErrorCode =
  | "usage" // bad flags or arguments
  | "config" // experiment file does not validate
  | "input" // dataset, predictions or responses file is unreadable or malformed
  | "not_found" // unknown provider, task, scorer or missing file
  | "locked" // another live process is writing the same trial files (exit 4)
  | "provider" // a model server cannot be used: down, unknown host, TLS or credentials refused
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

/**
 * Exit code for an error: 4 when another process holds the trial files (`locked`), 2 for
 * usage/config/input/io problems, 1 for everything else.
 */
export function exitCodeFor(error: unknown): 1 | 2 | 4 {
  if (error instanceof BenchlineError && error.code === "locked") return 4;
  if (error instanceof BenchlineError && error.code !== "internal") return 2;
  return 1;
}

/**
 * A per-request error that retrying cannot help (refused connection, unknown host, TLS failure,
 * rejected credentials): providers mark it `fatal: true` and the run stops with its message.
 */
export function isFatal(error: unknown): boolean {
  return (error as { fatal?: unknown } | null | undefined)?.fatal === true;
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
