import { isUtf8 } from "node:buffer";
import {
  closeSync,
  createReadStream,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  type Stats,
  statSync,
  writeSync,
} from "node:fs";
import { isLosslessNumber, parse as parseLossless } from "lossless-json";
import type { z } from "zod";
import { zlib } from "./builtins.js";
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
  /** Sees every byte of the file as read, in order (before gunzip): to hash it in the same pass. */
  onBytes?: (chunk: Buffer) => void;
}

/**
 * Streams a JSON Lines file row by row in constant memory, in time linear in its size (lines are
 * split as bytes; a long line is joined once). Blank lines are skipped. A malformed line is an
 * error naming `file:line`, except a torn final line (a crash mid-write), which is skipped and
 * reported through `onTorn`. Text must be UTF-8 (a leading byte-order mark is skipped); a
 * gzip-compressed file is read through gunzip. Integer `id`s beyond 2^53 keep their digits as
 * written (as strings) instead of being rounded.
 */
export async function* readJsonl<T = unknown>(
  path: string,
  options: ReadJsonlOptions<T> = {},
): AsyncGenerator<JsonlLine<T>> {
  for await (const batch of readJsonlBatches(path, options)) yield* batch;
}

/**
 * `readJsonl`'s rows a read chunk (64 KiB) at a time. A reader that handles each row synchronously
 * loops over a batch without a promise turn a row: a dataset's validation pass runs as one hot
 * loop, which V8 optimises early instead of interpreting an async iteration per line (issue 15).
 * Each chunk's complete lines are checked as UTF-8 and decoded at once.
 */
export async function* readJsonlBatches<T = unknown>(
  path: string,
  options: ReadJsonlOptions<T> = {},
): AsyncGenerator<JsonlLine<T>[]> {
  const label = options.label ?? path;
  const schema = options.schema;
  const gzip = checkReadable(path, label);
  // A plain file is read synchronously, a chunk at a time (from the page cache, tens of µs), not
  // through the thread pool: a pass over a dataset does not wait a turn of the event loop for
  // every chunk. A gzip file streams through gunzip.
  const raw = gzip ? createReadStream(path, { highWaterMark: 1 << 16 }) : undefined;
  const { onBytes } = options;
  if (raw && onBytes) raw.on("data", (chunk) => onBytes(chunk as Buffer));
  const stream: AsyncIterable<Buffer> | Iterable<Buffer> = raw
    ? raw.pipe(zlib().createGunzip())
    : readChunks(path, 1 << 16, onBytes);
  let parts: Buffer[] = [];
  let lineNo = 0;
  let batch: JsonlLine<T>[] = [];
  /** One line's bytes (the first of a chunk, when it continues the chunks before). */
  const one = (bytes: Buffer): void => {
    lineNo++;
    const row = parseLine<T>(decodeLine(bytes, lineNo, label), lineNo, label, schema);
    if (row !== undefined) batch.push({ value: row, line: lineNo });
  };
  try {
    for await (const chunk of stream) {
      const last = chunk.lastIndexOf(0x0a);
      if (last === -1) {
        parts.push(chunk);
        continue;
      }
      try {
        let start = 0;
        if (parts.length > 0 || lineNo === 0) {
          // The line the chunks before began (or the file's first line, which may carry a BOM).
          const nl = chunk.indexOf(0x0a);
          const piece = chunk.subarray(0, nl);
          one(parts.length > 0 ? Buffer.concat([...parts, piece]) : piece);
          parts = [];
          start = nl + 1;
        }
        if (start <= last) {
          const block = chunk.subarray(start, last);
          if (isUtf8(block)) {
            const text = block.toString("utf8");
            let from = 0;
            for (;;) {
              const nl = text.indexOf("\n", from);
              lineNo++;
              const row = parseLine<T>(
                nl === -1 ? text.slice(from) : text.slice(from, nl),
                lineNo,
                label,
                schema,
              );
              if (row !== undefined) batch.push({ value: row, line: lineNo });
              if (nl === -1) break;
              from = nl + 1;
            }
          } else {
            // Some line is not UTF-8: line by line, so the error names it.
            for (
              let nl = chunk.indexOf(0x0a, start);
              nl !== -1 && nl <= last;
              nl = chunk.indexOf(0x0a, start)
            ) {
              one(chunk.subarray(start, nl));
              start = nl + 1;
            }
          }
        }
      } catch (error) {
        // The rows before a bad line reach the reader first, as they did a row at a time.
        if (batch.length > 0) yield batch;
        batch = [];
        throw error;
      }
      if (last + 1 < chunk.length) parts.push(chunk.subarray(last + 1));
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
    }
  } catch (error) {
    if (error instanceof BenchlineError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (gzip && code?.startsWith("Z_"))
      throw new BenchlineError("input", `${label}: damaged gzip data (${(error as Error).message})`, {
        cause: error,
      });
    throw error;
  } finally {
    raw?.destroy();
    if (!raw) (stream as Generator<Buffer>).return(undefined);
  }
  if (parts.length === 0) return;
  const bytes = Buffer.concat(parts);
  lineNo++;
  let text: string;
  try {
    text = decodeLine(bytes, lineNo, label);
  } catch {
    options.onTorn?.(lineNo); // a write cut inside a multi-byte character
    return;
  }
  if (text.trim() === "") return;
  let parsed: unknown;
  try {
    parsed = exactIds(JSON.parse(text), text);
  } catch {
    options.onTorn?.(lineNo);
    return;
  }
  yield [{ value: validate(parsed, lineNo, label, schema), line: lineNo }];
}

/** A file's bytes in chunks of up to `size` (each a new buffer: the reader keeps pieces of them). */
function* readChunks(path: string, size: number, onBytes?: (chunk: Buffer) => void): Generator<Buffer> {
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(size);
      const n = readSync(fd, chunk, 0, size, null);
      if (n === 0) return;
      const bytes = n === size ? chunk : chunk.subarray(0, n);
      onBytes?.(bytes);
      yield bytes;
    }
  } finally {
    closeSync(fd);
  }
}

/** Throws a one-line error for a missing path or a directory; returns whether the file is gzip. */
function checkReadable(path: string, label: string): boolean {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      throw new BenchlineError("not_found", `${label}: file not found`, { cause: error });
    throw error;
  }
  if (stats.isDirectory())
    throw new BenchlineError("input", `${label}: is a directory, expected a JSON Lines file`);
  const head = Buffer.alloc(2);
  const fd = openSync(path, "r");
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** A line's bytes as text: UTF-8 only (a BOM on line 1 is skipped), else an error naming the line. */
function decodeLine(bytes: Buffer, line: number, label: string): string {
  let body = bytes;
  if (line === 1 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3);
  if (!isUtf8(body)) {
    const utf16 =
      line === 1 && ((body[0] === 0xff && body[1] === 0xfe) || (body[0] === 0xfe && body[1] === 0xff));
    throw new BenchlineError(
      "input",
      utf16
        ? `${label}:1: the file is UTF-16; save it as UTF-8`
        : `${label}:${line}: not valid UTF-8 (byte ${invalidUtf8Offset(body) + 1} of the line); save the file as UTF-8`,
    );
  }
  return body.toString("utf8");
}

/** Offset of the first byte that breaks UTF-8 (by bisection over valid prefixes). */
function invalidUtf8Offset(bytes: Buffer): number {
  let lo = 0;
  let hi = bytes.length;
  // Largest prefix length that is valid UTF-8 (a prefix cut inside a character counts as invalid).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (isUtf8(bytes.subarray(0, mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

const ID_KEYS = ["id", "task_id"] as const;

/**
 * JSON numbers are doubles: an integer id beyond 2^53 would be rounded and stop matching. Such a
 * row is parsed again keeping numbers as written (lossless-json), and the id becomes its digits.
 */
function exactIds(value: unknown, text: string): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const row = value as Record<string, unknown>;
  // Most rows: a string id, or a safe integer (checked without an array a row).
  if (!unsafeInteger(row.id) && !unsafeInteger(row.task_id)) return value;
  const inexact = ID_KEYS.filter((k) => unsafeInteger(row[k]));
  const exact = parseLossless(text) as Record<string, unknown>;
  for (const key of inexact) {
    const n = exact[key];
    if (isLosslessNumber(n)) row[key] = n.value;
  }
  return row;
}

const unsafeInteger = (v: unknown): boolean => typeof v === "number" && !Number.isSafeInteger(v);

function parseLine<T>(text: string, line: number, label: string, schema?: z.ZodType<T>): T | undefined {
  const trimmed = text.endsWith("\r") ? text.slice(0, -1) : text;
  if (trimmed.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = exactIds(JSON.parse(trimmed), trimmed);
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

/**
 * zod's parse options for a schema parsed once or a few times a run (the experiment file, a
 * model's options): zod's fast path compiles a function (`new Function`) for each object schema
 * on its first parse, which pays off over many rows but costs 1-10 ms a schema (outside the code
 * cache) before the first request (issue 15: start-up). Rows (datasets, JSONL files) keep it.
 */
export const PARSE_ONCE = { jitless: true } as const;

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
    writeAll(this.fd, `${JSON.stringify(row)}\n`, this.path);
  }

  /** Writes the buffered rows (buffered writers only). */
  flush(): void {
    if (this.fd === undefined || this.pending === "") return;
    const text = this.pending;
    this.pending = "";
    writeAll(this.fd, text, this.path);
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
    openWriters.delete(this);
  }
}

function writeAll(fd: number, text: string, path: string): void {
  const bytes = Buffer.from(text);
  // writeSync may write less than asked (a full disk, a file-size limit): finish or throw.
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
  } catch (error) {
    // Take back the part that did get written, so the file ends with whole rows.
    if (offset > 0) {
      try {
        ftruncateSync(fd, fstatSync(fd).size - offset);
      } catch {}
    }
    // Name the file: a write error from the OS carries no path.
    if (error instanceof Error && !("path" in error)) Object.assign(error, { path });
    throw error;
  }
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
