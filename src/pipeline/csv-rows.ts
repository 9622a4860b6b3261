import { closeSync, openSync, readSync, renameSync, writeSync } from "node:fs";
import type { Prediction } from "../core/index.js";
import { csvLine } from "../report/index.js";
import { removeQuietly } from "./json.js";

/** The experiment's predictions.csv and per_item_scores.csv: their columns and rows. */
export const PREDICTION_COLUMNS = [
  "trial",
  "model",
  "prompt_set",
  "id",
  "sample",
  "status",
  "completion",
  "error_code",
  "error_message",
  "finish_reason",
  "prompt_tokens",
  "completion_tokens",
  "cost_usd",
  "latency_ms",
  "attempts",
  "cached",
];
export const SCORE_COLUMNS = [
  "trial",
  "model",
  "prompt_set",
  "id",
  "sample",
  "category",
  "scorer",
  "value",
  "passed",
];

/** The CSV values of a prediction row; `head` is the trial's name, model and prompt set. */
export function predictionCsvLine(head: readonly unknown[], p: Prediction): string {
  return csvLine([
    ...head,
    p.id,
    p.sample,
    p.status,
    p.completion,
    p.error?.code,
    p.error?.message,
    p.finish_reason,
    p.usage?.prompt_tokens,
    p.usage?.completion_tokens,
    p.cost_usd,
    p.latency_ms,
    p.attempts,
    p.cached,
  ]);
}

/** The CSV values of a score row, with its item's category. */
export function scoreCsvLine(
  head: readonly unknown[],
  s: { id: string; sample: number; scorer: string; value: number; passed: boolean },
  category: string | undefined,
): string {
  return csvLine([...head, s.id, s.sample, category, s.scorer, s.value, s.passed]);
}

/**
 * A CSV written to a temp file and renamed into place, so readers never see half a file. Lines
 * are buffered and written 64 KiB at a time (a crash leaves only the temp file).
 */
export class CsvFile {
  private readonly tmp: string;
  private fd: number | undefined;
  private pending = "";
  private committed = false;

  constructor(
    private readonly path: string,
    columns: string[],
  ) {
    this.tmp = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, "w");
    try {
      this.write(columns);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  write(values: readonly unknown[]): void {
    this.writeLine(csvLine(values));
  }

  /** A line made by `csvLine` (or the line helpers above). */
  writeLine(line: string): void {
    if (this.fd === undefined) return;
    this.pending += line;
    if (this.pending.length >= 1 << 16) this.flush();
  }

  /** Appends the bytes of a file of CSV lines (a fresh trial's rows: `CsvPart`), a chunk at a time. */
  append(path: string): void {
    this.flush();
    if (this.fd === undefined) return;
    const chunk = Buffer.allocUnsafe(1 << 20);
    const from = openSync(path, "r");
    try {
      for (let n = readSync(from, chunk); n > 0; n = readSync(from, chunk))
        for (let offset = 0; offset < n; ) offset += writeSync(this.fd, chunk, offset, n - offset);
    } finally {
      closeSync(from);
    }
  }

  commit(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.tmp, this.path);
    this.committed = true;
  }

  private flush(): void {
    if (this.fd === undefined || this.pending === "") return;
    const bytes = Buffer.from(this.pending);
    this.pending = "";
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(this.fd, bytes, offset);
  }

  /** Closes the file; an uncommitted temp file (a failed write) is removed. */
  close(): void {
    this.pending = "";
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    if (!this.committed) removeQuietly(this.tmp);
  }
}
