/**
 * A split's files (Parquet, CSV/TSV, JSON, JSON Lines; text ones possibly gzipped) turned into one
 * JSON Lines file in the cache, row by row: Parquet one row group at a time (hyparquet), CSV as a
 * stream (csv-parse), a JSON array element by element (stream-json), JSON Lines copied as bytes. The pipeline then streams it like a local file.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
} from "node:fs";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { zlib } from "../core/builtins.js";
import { BenchlineError } from "../core/index.js";

/** One input file: where it is on disk and how to name it in messages. */
export interface RowFile {
  path: string;
  label: string;
}

/** Writes every row of `files`, in order, as JSON Lines to `out` (whole or not at all). */
export async function writeRowsJsonl(files: RowFile[], out: string): Promise<void> {
  mkdirSync(dirname(out), { recursive: true });
  const temp = `${out}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  const sink = createWriteStream(temp);
  let buffer = "";
  const write = async (text: string) => {
    buffer += text;
    if (buffer.length < 1 << 20) return;
    const chunk = buffer;
    buffer = "";
    if (!sink.write(chunk)) await new Promise<void>((r) => sink.once("drain", () => r()));
  };
  const writeRow = (row: unknown) => write(`${rowJson(row)}\n`);
  try {
    for (const file of files) {
      const kind = formatOf(file.path);
      try {
        if (kind === "parquet") await readParquet(file.path, writeRow);
        else if (kind === "csv" || kind === "tsv")
          await readCsv(file.path, kind === "tsv" ? "\t" : ",", writeRow);
        else if (kind === "json" && startsWithBracket(file.path)) {
          // One array: its elements one at a time (stream-json), never the whole file at once.
          const { default: streamArray } = await import("stream-json/streamers/stream-array.js");
          const elements = textStream(file.path).pipe(streamArray.withParserAsStream());
          for await (const { value } of elements as AsyncIterable<{ value: unknown }>) await writeRow(value);
        } else {
          // JSON Lines (also `.json` files holding one object a line): copied as they are.
          let last = 10;
          for await (const chunk of textStream(file.path)) {
            const text = (chunk as Buffer).toString("utf8");
            if (text.length > 0) last = text.charCodeAt(text.length - 1);
            await write(text);
          }
          if (last !== 10) await write("\n");
        }
      } catch (error) {
        if (error instanceof BenchlineError) throw error;
        throw new BenchlineError("input", `${file.label}: cannot read ${kind}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    if (buffer) sink.write(buffer);
    await new Promise<void>((resolve, reject) => sink.end((e?: Error | null) => (e ? reject(e) : resolve())));
    renameSync(temp, out);
  } catch (error) {
    sink.destroy();
    rmSync(temp, { force: true });
    throw error;
  }
}

/** The format of a data file by its name (`.gz` of a text format is that format). */
export function formatOf(path: string): "parquet" | "csv" | "tsv" | "json" | "jsonl" {
  const name = path.toLowerCase().replace(/\.gz$/, "");
  if (name.endsWith(".parquet")) return "parquet";
  if (name.endsWith(".csv")) return "csv";
  if (name.endsWith(".tsv")) return "tsv";
  if (name.endsWith(".json")) return "json";
  return "jsonl";
}

// ─── internal helpers ──────────────────────────────────────────────────────────────────────

/** One row group at a time: memory follows the largest row group, not the file. */
async function readParquet(path: string, onRow: (row: unknown) => Promise<void>): Promise<void> {
  // Loaded here, not at start-up: a run over a local JSONL file never needs them (issue 15).
  const [{ asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects }, { compressors }] =
    await Promise.all([import("hyparquet"), import("hyparquet-compressors")]);
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    const rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end, compressors });
    for (const row of rows) await onRow(row);
    start = end;
  }
}

async function readCsv(
  path: string,
  delimiter: string,
  onRow: (row: unknown) => Promise<void>,
): Promise<void> {
  const { parse: parseCsv } = await import("csv-parse");
  const parser = textStream(path).pipe(
    parseCsv({ columns: true, bom: true, delimiter, skip_empty_lines: true, relax_quotes: false }),
  );
  for await (const record of parser) await onRow(record);
}

function textStream(path: string): Readable {
  const raw = createReadStream(path);
  return path.toLowerCase().endsWith(".gz") ? raw.pipe(zlib().createGunzip()) : raw;
}

/** A JSON array rather than one object a line. */
function startsWithBracket(path: string): boolean {
  if (path.toLowerCase().endsWith(".gz")) return false;
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    return head
      .subarray(0, n)
      .toString("utf8")
      .replace(/^\uFEFF/, "")
      .trimStart()
      .startsWith("[");
  } finally {
    closeSync(fd);
  }
}

const BIG = "\u0000bigint:";

/**
 * A row as one JSON line: 64-bit integers as numbers (digits kept as written past 2^53, which the
 * JSON Lines reader keeps), bytes as base64, dates as ISO text.
 */
function rowJson(row: unknown): string {
  let big = false;
  const text = JSON.stringify(row, (_key, value: unknown) => {
    if (typeof value === "bigint") {
      if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER))
        return Number(value);
      big = true;
      return `${BIG}${value}`;
    }
    if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
    return value;
  });
  return big ? text.replace(/"\\u0000bigint:(-?\d+)"/g, "$1") : text;
}
