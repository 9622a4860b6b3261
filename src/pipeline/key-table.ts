import type { z } from "zod";
import { BenchlineError, formatIssues } from "../core/index.js";
import { type Dataset, IdTable } from "../tasks/index.js";
import { keyedRows } from "./files.js";

/**
 * What a key table is about, so that its keys need no bytes of their own: the items (an id →
 * position table the caller holds anyway: the dataset's, or a report's items), the samples in
 * scope and, for tables of scores, the scorers. A key `id\0sample[\0column]` of an item in the
 * scope, a sample below `samples` and one of the `columns` is a slot in typed arrays indexed by
 * the item's position (one array per sample and column, made on first use); any other key is kept
 * by its bytes, as without a scope. Exact either way: an id is found by its bytes in `position`,
 * and a key string always maps to the same slot, no two keys to one.
 */
export interface KeyScope {
  /** Positions are 0 ≤ position < size. */
  readonly size: number;
  /** The position of an item's id, or undefined for an id outside the scope. */
  position(id: string): number | undefined;
  /** Every id in the scope with its position (to list a table's keys). */
  ids(): Iterable<[string, number]>;
  /** Samples in scope are 0 ≤ sample < samples; undefined: any (below 65,536). */
  readonly samples?: number | undefined;
  /** Names that end a key after its sample (`id\0sample\0name`: scorers); none: `id\0sample`. */
  readonly columns?: readonly string[];
}

/** The scope of a phase's keys: the dataset's selected items, `samples` per item. */
export function datasetScope(dataset: Dataset, samples: number, columns?: readonly string[]): KeyScope {
  return {
    size: dataset.total,
    position: (id) => dataset.index.get(id),
    ids: () => dataset.index.entries(),
    samples,
    ...(columns ? { columns } : {}),
  };
}

/** Samples a scope without a bound keeps in slots; keys of higher samples are kept by their bytes. */
const MAX_SCOPED_SAMPLE = 1 << 16;

/**
 * Resolves a table's keys: {@link locate} finds a key's slot in the scope (`chunk`, `position`),
 * or says it is not in the scope, when the table keeps it by its bytes in `others`.
 */
abstract class ScopedKeys {
  protected readonly others = new IdTable();
  /** Slot of the last key located: the array of its sample and column, and the item's position. */
  protected chunk = 0;
  protected position = 0;
  private readonly suffixes: readonly string[];

  constructor(protected readonly scope?: KeyScope) {
    this.suffixes = scope?.columns?.map((name) => `\u0000${name}`) ?? [];
  }

  /** Whether `key` is in the scope; if so, its slot is left in `chunk` and `position`. */
  protected locate(key: string): boolean {
    const scope = this.scope;
    if (!scope) return false;
    let end = key.length;
    let column = 0;
    if (this.suffixes.length > 0) {
      column = this.suffixes.findIndex((suffix) => key.endsWith(suffix));
      if (column === -1) return false;
      end -= (this.suffixes[column] as string).length;
    }
    const at = key.lastIndexOf("\u0000", end - 1);
    // The sample: decimal digits as `String(sample)` writes them (no sign, no leading zero).
    if (at === -1 || at + 1 === end || (key.charCodeAt(at + 1) === 48 && at + 2 !== end)) return false;
    let sample = 0;
    for (let i = at + 1; i < end; i++) {
      const digit = key.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return false;
      sample = sample * 10 + digit;
    }
    if (sample >= (scope.samples ?? MAX_SCOPED_SAMPLE)) return false;
    const position = scope.position(key.slice(0, at));
    if (position === undefined) return false;
    this.chunk = sample * Math.max(1, this.suffixes.length) + column;
    this.position = position;
    return true;
  }

  /** The scope's keys of `chunk` with their positions. */
  protected *keysOf(chunk: number): Generator<[string, number]> {
    if (!this.scope) return;
    const columns = Math.max(1, this.suffixes.length);
    const tail = `\u0000${Math.floor(chunk / columns)}${this.suffixes[chunk % columns] ?? ""}`;
    for (const [id, position] of this.scope.ids()) yield [`${id}${tail}`, position];
  }
}

/**
 * The last row of each `(id, sample)` key of a trial file, kept off the JavaScript heap: per key
 * a byte of flags the caller chooses (a status, say) and, for a key with more than one row, the
 * line of its last. With a {@link KeyScope}, a key in the scope costs that byte alone (its slot is
 * its item's position; the line of a key's only row need not be kept: it is final); the lines of
 * keys with several rows (resumed runs, retried errors) go to a small map, or to an array of the
 * scope's size once they are many. Other keys are kept by their bytes in an {@link IdTable} (about
 * 25 bytes plus the key's length each) — where a `Map` of strings costs several times that, all of
 * it heap the garbage collector scans and grows beyond. Streaming a file's final rows
 * (`isFinal(key, line)`) then needs no row in memory.
 */
export class KeyTable extends ScopedKeys {
  /** Flags | {@link HAS_ROW} per scoped slot: one array per sample and column. */
  private readonly flagChunks: Uint8Array[] = [];
  /**
   * Last line + 1 of scoped keys with several rows, per chunk: by position in a map while they
   * are few, then in an array of the scope's size (0: one row).
   */
  private readonly repeatChunks: (Map<number, number> | Int32Array)[] = [];
  private scoped = 0;
  /** Keys outside the scope, by entry in `others`. */
  private lines = new Int32Array(16);
  private flagBytes = new Uint8Array(16);
  /**
   * The highest line recorded: rows past it were written after the table was read (a run still
   * appending while a report reads) and are not among its final rows.
   */
  lastLine = -1;

  get size(): number {
    return this.scoped + this.others.size;
  }

  /** Records `line` (and `flags`, 0–127) as the last row of `key`. */
  set(key: string, line: number, flags = 0): void {
    if (!(flags >= 0 && flags <= MAX_FLAGS)) throw new RangeError(`key table flags are 0–127, got ${flags}`);
    if (line > this.lastLine) this.lastLine = line;
    if (this.locate(key)) {
      const size = (this.scope as KeyScope).size;
      let bytes = this.flagChunks[this.chunk];
      if (!bytes) bytes = this.flagChunks[this.chunk] = new Uint8Array(size);
      if (((bytes[this.position] as number) & HAS_ROW) === 0) this.scoped++;
      else {
        let repeats = this.repeatChunks[this.chunk];
        if (!repeats) repeats = this.repeatChunks[this.chunk] = new Map();
        if (repeats instanceof Map) {
          repeats.set(this.position, line + 1);
          // A map entry costs some 30 bytes of heap, an array slot 4: past an eighth, the array.
          if (repeats.size > size >> 3) {
            const array = new Int32Array(size);
            for (const [position, value] of repeats) array[position] = value;
            this.repeatChunks[this.chunk] = array;
          }
        } else repeats[this.position] = line + 1;
      }
      bytes[this.position] = flags | HAS_ROW;
      return;
    }
    const entry = this.others.add(key) ?? this.others.size - 1;
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

  /** Sets the flags (0–127) of a key that has a row (its last row stays the same); false if none. */
  setFlags(key: string, flags: number): boolean {
    if (!(flags >= 0 && flags <= MAX_FLAGS)) throw new RangeError(`key table flags are 0–127, got ${flags}`);
    if (this.locate(key)) {
      const bytes = this.flagChunks[this.chunk];
      if (!bytes || ((bytes[this.position] as number) & HAS_ROW) === 0) return false;
      bytes[this.position] = flags | HAS_ROW;
      return true;
    }
    const entry = this.others.get(key);
    if (entry === undefined) return false;
    this.flagBytes[entry] = flags;
    return true;
  }

  /** Whether the row at `line` is the last row of `key` (as the table was read). */
  isFinal(key: string, line: number): boolean {
    if (line > this.lastLine) return false;
    if (this.locate(key)) {
      const bytes = this.flagChunks[this.chunk];
      if (!bytes || ((bytes[this.position] as number) & HAS_ROW) === 0) return false;
      const repeats = this.repeatChunks[this.chunk];
      const last = repeats instanceof Map ? repeats.get(this.position) : repeats?.[this.position];
      // A key with one row: that row is its last.
      return last === undefined || last === 0 || last === line + 1;
    }
    const entry = this.others.get(key);
    return entry !== undefined && this.lines[entry] === line;
  }

  /** Flags of the last row of `key`, or undefined. */
  flags(key: string): number | undefined {
    if (this.locate(key)) {
      const flags = this.flagChunks[this.chunk]?.[this.position] ?? 0;
      return (flags & HAS_ROW) === 0 ? undefined : flags & MAX_FLAGS;
    }
    const entry = this.others.get(key);
    return entry === undefined ? undefined : this.flagBytes[entry];
  }

  /**
   * Every key with its last row's flags: keys in the scope by sample (and column), then item
   * position; then the others in the order first seen.
   */
  *entries(): Generator<[string, number]> {
    for (const [chunk, flags] of this.flagChunks.entries()) {
      if (!flags) continue;
      for (const [key, position] of this.keysOf(chunk)) {
        const value = flags[position] as number;
        if ((value & HAS_ROW) !== 0) yield [key, value & MAX_FLAGS];
      }
    }
    let entry = 0;
    for (const key of this.others.keys()) yield [key, this.flagBytes[entry++] as number];
  }
}

/** The flag bit of a scoped slot that has a row; callers' flags are the 7 bits below it. */
const HAS_ROW = 0x80;
const MAX_FLAGS = 0x7f;

/**
 * One pass over a `(id, sample)`-keyed JSONL file (rows parsed, not validated): its keys' last
 * lines, and `flags(row)` of each last row (keys in `scope` kept by slot, see {@link KeyScope}). A row without a string id and an integer sample is an
 * error naming `file:line`. A missing file is empty.
 */
export async function readKeyTable<R = Record<string, unknown>>(
  path: string,
  flags: (row: R) => number = () => 0,
  keyOf?: (row: R) => string,
  scope?: KeyScope,
): Promise<KeyTable> {
  const table = new KeyTable(scope);
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
    // Rows appended since the table was read are not in it (nor any key's last).
    if (line > table.lastLine) return;
    if (!table.isFinal(key, line)) continue;
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
 * it spells — per slot for keys in the {@link KeyScope}, in 6 bytes (a `Uint32Array` and a
 * `Uint16Array` holding the number + 1, 0 for none); per entry of the keys kept by their bytes
 * otherwise, in a `Float64Array` (exact below 2^53). A basis of another shape (none, or written by
 * hand; and ffffffffffff, whose number + 1 does not fit 6 bytes) is kept apart in a small map.
 */
export class BasisTable extends ScopedKeys {
  /** Basis + 1 per scoped slot, low 32 and high 16 bits (0: none, or in `odd`), per sample and column. */
  private readonly low: Uint32Array[] = [];
  private readonly high: Uint16Array[] = [];
  private scoped = 0;
  /** Keys outside the scope, by entry in `others` (basis as is; NaN: in `odd`). */
  private values = new Float64Array(16);
  /** Bases of another shape: by `chunk * size + position` for scoped keys, `-1 - entry` for others. */
  private readonly odd = new Map<number, string | undefined>();

  get size(): number {
    return this.scoped + this.others.size;
  }

  set(key: string, basis: string | undefined): void {
    const n = basisNumber(basis);
    if (this.locate(key)) {
      const size = (this.scope as KeyScope).size;
      let low = this.low[this.chunk];
      let high = this.high[this.chunk] as Uint16Array;
      if (!low) {
        low = this.low[this.chunk] = new Uint32Array(size);
        high = this.high[this.chunk] = new Uint16Array(size);
      }
      const oddKey = this.chunk * size + this.position;
      if (low[this.position] === 0 && high[this.position] === 0 && !this.odd.has(oddKey)) this.scoped++;
      if (n < MAX_SLOT_BASIS) {
        const code = n + 1;
        high[this.position] = Math.floor(code / 2 ** 32);
        low[this.position] = code % 2 ** 32;
        this.odd.delete(oddKey);
      } else {
        high[this.position] = 0;
        low[this.position] = 0;
        this.odd.set(oddKey, basis);
      }
      return;
    }
    const entry = this.others.add(key) ?? this.others.size - 1;
    if (entry >= this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[entry] = n;
    if (Number.isNaN(n)) this.odd.set(-1 - entry, basis);
    else this.odd.delete(-1 - entry);
  }

  has(key: string): boolean {
    if (this.locate(key)) return this.code() !== 0 || this.odd.has(this.oddKey());
    return this.others.has(key);
  }

  /** Whether `key` has a basis and it is `basis`. */
  matches(key: string, basis: string): boolean {
    if (this.locate(key)) {
      const code = this.code();
      if (code !== 0) return basisNumber(basis) === code - 1;
      const oddKey = this.oddKey();
      return this.odd.has(oddKey) && this.odd.get(oddKey) === basis;
    }
    const entry = this.others.get(key);
    if (entry === undefined) return false;
    const stored = this.values[entry] as number;
    const n = basisNumber(basis);
    return Number.isNaN(n) ? Number.isNaN(stored) && this.odd.get(-1 - entry) === basis : stored === n;
  }

  /** The located slot's basis + 1 (0: none, or in `odd`). */
  private code(): number {
    const low = this.low[this.chunk];
    if (!low) return 0;
    return (this.high[this.chunk] as Uint16Array)[this.position]! * 2 ** 32 + low[this.position]!;
  }

  private oddKey(): number {
    return this.chunk * (this.scope as KeyScope).size + this.position;
  }
}

/** Bases below this fit a slot as basis + 1 in 48 bits; others (and NaN) go to the `odd` map. */
const MAX_SLOT_BASIS = 2 ** 48 - 1;

/** A 12-hex-digit basis as a number; NaN for anything else. */
export function basisNumber(basis: string | undefined): number {
  return basis !== undefined && /^[0-9a-f]{12}$/.test(basis) ? Number.parseInt(basis, 16) : Number.NaN;
}
