import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { BenchlineError } from "../core/index.js";

export function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BenchlineError(
      code === "ENOENT" ? "not_found" : "input",
      `${path}: ${code === "ENOENT" ? "not found" : (error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** Writes a file atomically (temp file + rename) only when its content changed. */
export function writeIfChanged(path: string, text: string): void {
  if (existsSync(path) && readFileSync(path, "utf8") === text) return;
  // Unique even across hosts sharing the directory: two writers never share a temp file.
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (error) {
    // A full disk or a read-only directory: leave no half-written temp file behind.
    removeQuietly(tmp);
    throw error;
  }
}

/** Deletes a file if it exists; never throws. */
export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/** JSON with 2-space indentation and a trailing newline, written only when it changed. */
export function writeJsonIfChanged(path: string, value: unknown): void {
  writeIfChanged(path, `${JSON.stringify(value, null, 2)}\n`);
}
