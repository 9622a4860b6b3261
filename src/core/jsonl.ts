import {
  closeSync,
  createReadStream,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { z } from "zod";
import { BenchlineError } from "./errors.js";

export interface JsonlLine<T> {
  value: T;
  /** 1-based line number in the file. */
  line: number;
}

export interface ReadJsonlOptions<T> {
  /** Validate each row; a failure is an `input` error naming `file:line` and the field. */
  schema?: z.ZodType<T>;
  /** Called when the final line is torn (no newline and not valid JSON): it is skipped. */
  onTorn?: (line: number) => void;
  /** Display name for error messages (defaults to the path). */
  label?: string;
}

/**
 * Streams a JSON Lines file row by row in constant memory. Blank lines are skipped. A malformed
 * line is an error naming `file:line`, except a torn final line (a crash mid-write), which is
 * skipped and reported through `onTorn`.
 */
export async function* readJsonl<T = unknown>(
  path: string,
  options: ReadJsonlOptions<T> = {},
): AsyncGenerator<JsonlLine<T>> {
  const label = options.label ?? path;
  if (!existsSync(path)) throw new BenchlineError("not_found", `${label}: file not found`);
  const decoder = new StringDecoder("utf8");
  let pending = "";
  let lineNo = 0;
  const stream = createReadStream(path, { highWaterMark: 1 << 16 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending += decoder.write(chunk);
    let start = 0;
    for (let nl = pending.indexOf("\n", start); nl !== -1; nl = pending.indexOf("\n", start)) {
      lineNo++;
      const text = pending.slice(start, nl);
      start = nl + 1;
      const row = parseLine<T>(text, lineNo, label, options.schema);
      if (row !== undefined) yield { value: row, line: lineNo };
    }
    pending = pending.slice(start);
  }
  pending += decoder.end();
  if (pending.trim() !== "") {
    lineNo++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(pending);
    } catch {
      options.onTorn?.(lineNo);
      return;
    }
    yield { value: validate(parsed, lineNo, label, options.schema), line: lineNo };
  }
}

function parseLine<T>(text: string, line: number, label: string, schema?: z.ZodType<T>): T | undefined {
  const trimmed = text.endsWith("\r") ? text.slice(0, -1) : text;
  if (trimmed.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (error) {
    throw new BenchlineError("input", `${label}:${line}: not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  return validate(parsed, line, label, schema);
}

function validate<T>(value: unknown, line: number, label: string, schema?: z.ZodType<T>): T {
  if (!schema) return value as T;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new BenchlineError("input", `${label}:${line}: ${formatIssues(result.error.issues)}`, {
    cause: result.error,
  });
}

/** `models[1].temperature: expected number` — zod issues as one line. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  // Issues of the top level (no path) first: after `models[1]: …` they would read as part of it.
  const topFirst = [...issues].sort((a, b) => Math.min(a.path.length, 1) - Math.min(b.path.length, 1));
  return topFirst
    .slice(0, 3)
    .map((issue) => formatIssue(issue, []))
    .join("; ");
}

function formatIssue(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): string {
  const full = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    // Report the branch that got furthest (deepest path): for `string | {object}` given an
    // object, that is the object's own field error, not "expected string".
    const depth = (branch: readonly z.core.$ZodIssue[]): number =>
      Math.max(
        ...branch.map((i) => i.path.length + (i.code === "invalid_type" && i.path.length === 0 ? -1 : 0)),
      );
    const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0];
    if (best && best.length > 0 && depth(best) >= 0)
      return best
        .slice(0, 2)
        .map((i) => formatIssue(i, full))
        .join("; ");
    const expected = issue.errors.flatMap((b) =>
      b
        .filter((i) => i.code === "invalid_type" && i.path.length === 0)
        .map((i) => (i as { expected: string }).expected),
    );
    if (expected.length === issue.errors.length) {
      const path = formatPath(full);
      return `${path ? `${path}: ` : ""}expected ${[...new Set(expected)].join(" or ")}`;
    }
  }
  const path = formatPath(full);
  let message = issue.message.replace(/^Invalid input: /, "");
  if (issue.code === "unrecognized_keys")
    message = `unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return path ? `${path}: ${message}` : message;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

export interface JsonlWriterOptions {
  /**
   * Collect rows and write them 64 KiB at a time (and on close or process exit) instead of one
   * write per row. Only for files whose rows a rerun rebuilds at no cost (prompts, scores): a
   * `kill -9` can lose the rows still buffered, never a row already written.
   */
  buffered?: boolean;
}

/**
 * An append-only JSONL file. Unbuffered (the default), `write` returns once the row is in the
 * operating system (a synchronous write), so an acknowledged row survives the process being
 * killed at any moment. Opening repairs a torn final line left by a crash mid-write.
 */
export class JsonlWriter {
  private fd: number | undefined;
  private pending = "";
  private readonly buffered: boolean;
  readonly path: string;
  count = 0;

  private constructor(path: string, fd: number, buffered: boolean) {
    this.path = path;
    this.fd = fd;
    this.buffered = buffered;
    openWriters.add(this);
  }

  static open(path: string, options: JsonlWriterOptions = {}): JsonlWriter {
    repairTail(path);
    return new JsonlWriter(path, openSync(path, "a"), options.buffered ?? false);
  }

  write(row: unknown): void {
    if (this.fd === undefined) throw new BenchlineError("internal", `${this.path}: write after close`);
    this.count++;
    if (this.buffered) {
      this.pending += `${JSON.stringify(row)}\n`;
      if (this.pending.length >= 1 << 16) this.flush();
      return;
    }
    writeAll(this.fd, `${JSON.stringify(row)}\n`);
  }

  /** Writes the buffered rows (buffered writers only). */
  flush(): void {
    if (this.fd === undefined || this.pending === "") return;
    const text = this.pending;
    this.pending = "";
    writeAll(this.fd, text);
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
    openWriters.delete(this);
  }
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  // writeSync may write less than asked (a full disk, a file-size limit): finish or throw.
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
}

const openWriters = new Set<JsonlWriter>();
process.once("exit", () => {
  for (const writer of openWriters) writer.close();
});

/**
 * Makes the file end in a newline: a final fragment that parses as JSON gets its newline; one
 * that does not (a torn write) is cut off. Returns what it did.
 */
export function repairTail(path: string): "none" | "newline" | "truncated" {
  if (!existsSync(path)) return "none";
  const fd = openSync(path, "r+");
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return "none";
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return "none";
    // Walk back to the previous newline (block by block) to find the torn fragment.
    const block = 1 << 16;
    let end = size;
    let fragmentStart = 0;
    const chunks: Buffer[] = [];
    search: while (end > 0) {
      const start = Math.max(0, end - block);
      const buf = Buffer.alloc(end - start);
      readSync(fd, buf, 0, buf.length, start);
      for (let i = buf.length - 1; i >= 0; i--) {
        if (buf[i] === 0x0a) {
          fragmentStart = start + i + 1;
          chunks.unshift(buf.subarray(i + 1));
          break search;
        }
      }
      chunks.unshift(buf);
      end = start;
    }
    const fragment = Buffer.concat(chunks).toString("utf8");
    try {
      JSON.parse(fragment);
      writeSync(fd, "\n", size);
      return "newline";
    } catch {
      // Another process may be appending right now (shards sharing a directory): a fragment
      // that is still growing is not torn. Only a fragment left unchanged is cut.
      if (Date.now() - fstatSync(fd).mtimeMs < 2000) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        if (fstatSync(fd).size !== size) return "none";
      }
      ftruncateSync(fd, fragmentStart);
      return "truncated";
    }
  } finally {
    closeSync(fd);
  }
}
