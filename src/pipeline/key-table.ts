import type { z } from "zod";
import { BenchlineError, formatIssues } from "../core/index.js";
import { IdTable } from "../tasks/index.js";
import { keyedRows } from "./files.js";

/**
 * The last row of each `(id, sample)` key of a trial file, kept off the JavaScript heap: the keys
 * in an {@link IdTable} (their bytes in one buffer), and per key the line of its last row and a
 * byte of flags the caller chooses (a status, say) in typed arrays — about 25 bytes plus the
 * key's length each, where a `Map` of strings costs several times that, all of it heap the
 * garbage collector scans and grows beyond. Streaming a file's final rows (`line(key) === line`)
 * then needs no row in memory.
 */
export class KeyTable {
  private readonly keys = new IdTable();
  private lines = new Int32Array(1024);
  private flagBytes = new Uint8Array(1024);

  get size(): number {
    return this.keys.size;
  }

  /** Records `line` (and `flags`, 0–255) as the last row of `key`. */
  set(key: string, line: number, flags = 0): void {
    const entry = this.keys.add(key) ?? this.keys.size - 1;
    if (entry >= this.lines.length) {
      const lines = new Int32Array(this.lines.length * 2);
      lines.set(this.lines);
      this.lines = lines;
      const bytes = new Uint8Array(this.flagBytes.length * 2);
      bytes.set(this.flagBytes);
      this.flagBytes = bytes;
    }
    this.lines[entry] = line;
    this.flagBytes[entry] = flags;
  }

  /** Line of the last row of `key`, or undefined. */
  line(key: string): number | undefined {
    const entry = this.keys.get(key);
    return entry === undefined ? undefined : this.lines[entry];
  }

  /** Flags of the last row of `key`, or undefined. */
  flags(key: string): number | undefined {
    const entry = this.keys.get(key);
    return entry === undefined ? undefined : this.flagBytes[entry];
  }

  /** Keys in the order first seen, with their last row's flags. */
  *entries(): Generator<[string, number]> {
    let entry = 0;
    for (const key of this.keys.keys()) yield [key, this.flagBytes[entry++] as number];
  }
}

/**
 * One pass over a `(id, sample)`-keyed JSONL file (rows parsed, not validated): its keys' last
 * lines, and `flags(row)` of each last row. A row without a string id and an integer sample is an
 * error naming `file:line`. A missing file is empty.
 */
export async function readKeyTable<R = Record<string, unknown>>(
  path: string,
  flags: (row: R) => number = () => 0,
  keyOf?: (row: R) => string,
): Promise<KeyTable> {
  const table = new KeyTable();
  for await (const { key, row, line } of keyedRows<R>(path, keyOf)) table.set(key, line, flags(row));
  return table;
}

/**
 * The rows of a keyed JSONL file that are the last of their key in `table` (read from the same
 * file by {@link readKeyTable}), each validated against `schema` (an error naming `file:line`; a
 * superseded row is never validated), with its key and line; `schema` undefined skips validation.
 */
export async function* finalRows<T>(
  path: string,
  table: KeyTable,
  schema: z.ZodType<T> | undefined,
  // biome-ignore lint/suspicious/noExplicitAny: rows are parsed JSON, not yet validated
  keyOf?: (row: any) => string,
): AsyncGenerator<{ key: string; row: T; line: number }> {
  if (table.size === 0) return;
  for await (const { key, row, line } of keyedRows(path, keyOf)) {
    if (table.line(key) !== line) continue;
    if (!schema) {
      yield { key, row: row as T, line };
      continue;
    }
    const parsed = schema.safeParse(row);
    if (!parsed.success)
      throw new BenchlineError("input", `${path}:${line}: ${formatIssues(parsed.error.issues)}`, {
        cause: parsed.error,
      });
    yield { key, row: parsed.data, line };
  }
}

/** The `(id, sample)` of a key. */
export function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf("\u0000");
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

/**
 * Score bases (`scoreBasis`: 12 hex digits) by key, off the heap: each one as the 48-bit number
 * it spells, in a `Float64Array` (exact below 2^53); a basis of another shape (none, or written
 * by hand) is kept apart in a small map.
 */
export class BasisTable {
  private readonly keys = new IdTable();
  private values = new Float64Array(1024);
  private readonly odd = new Map<number, string | undefined>();

  get size(): number {
    return this.keys.size;
  }

  set(key: string, basis: string | undefined): void {
    const entry = this.keys.add(key) ?? this.keys.size - 1;
    if (entry >= this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    const n = basisNumber(basis);
    this.values[entry] = n;
    if (Number.isNaN(n)) this.odd.set(entry, basis);
    else this.odd.delete(entry);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Whether `key` has a basis and it is `basis`. */
  matches(key: string, basis: string): boolean {
    const entry = this.keys.get(key);
    if (entry === undefined) return false;
    const n = basisNumber(basis);
    return Number.isNaN(n) ? this.odd.get(entry) === basis : this.values[entry] === n;
  }
}

/** A 12-hex-digit basis as a number; NaN for anything else. */
export function basisNumber(basis: string | undefined): number {
  return basis !== undefined && /^[0-9a-f]{12}$/.test(basis) ? Number.parseInt(basis, 16) : Number.NaN;
}
