import { extname } from "node:path";
import { BenchlineError, readJsonlBatches, type Sample, type Task } from "../core/index.js";
import { type FieldMap, mappedRowSchema } from "./fields.js";
import { IdTable, IntList } from "./id-table.js";

export interface LoadSamplesOptions {
  /** Display name for messages (the path as the user wrote it). */
  label: string;
  limit?: number;
  /** Keep only rows whose id is here (after `limit`). */
  ids?: ReadonlySet<string>;
  /** Keep every `parts`-th row (round-robin over the rows left by `limit` and `ids`), 1-based. */
  shard?: { part: number; parts: number };
  /** Hold the selected samples in memory (tasks with a `prepare` hook need them all at once). */
  keep?: boolean;
  /** Called with each selected sample during the validation pass (e.g. to check placeholders). */
  onSample?: (sample: Sample, line: number) => void;
  /** Task fields read from dataset columns of other names (`fields:`; checked by `checkFieldMap`). */
  fields?: FieldMap;
  /** Sees the file's bytes as the pass reads them (the dataset's hash is taken in the same pass). */
  onBytes?: (chunk: Buffer) => void;
}

/**
 * A validated dataset. Only ids (with their positions and lines) are held, so memory grows with
 * the number of rows by a few dozen bytes each, not with their content; the samples themselves
 * are read again from the file, in order, by `readDataset` (or held in `samples` with `keep`).
 */
export interface Dataset {
  task: Task<unknown, unknown>;
  path: string;
  label: string;
  /** Selected ids in file order → 0-based position among the dataset's rows (its order, for `limit`). */
  index: IdTable;
  /** Line of each row, by its position among the rows (the values of `index`). */
  rowLines: IntList;
  /** Rows in the file (before `limit`). */
  total: number;
  /** The selected samples, when held in memory (`keep`, or a task's per-prompt-set view). */
  samples?: Sample[];
  /** With `ids`: those not among the dataset's rows (within `limit`). */
  missingIds?: string[];
  /** Task fields read from columns of other names: every read of the rows applies them. */
  fields?: FieldMap;
}

/** Line of a selected sample's row, for messages. */
export function lineOf(dataset: Dataset, id: string): number | undefined {
  const position = dataset.index.get(id);
  return position === undefined ? undefined : dataset.rowLines.get(position);
}

/**
 * Reads a JSONL dataset through the task's row schema in one streaming pass. Every problem is an
 * `input` error naming `file:line`: a line that is not JSON, a row that does not fit the task, an
 * id seen before (both lines are named). Reads the whole file even with `limit`, so a bad line is
 * never silently kept.
 */
export async function loadSamples(
  task: Task<unknown, unknown>,
  path: string,
  options: LoadSamplesOptions,
): Promise<Dataset> {
  if (extname(path) === ".json") {
    throw new BenchlineError(
      "input",
      `${options.label}: datasets are JSON Lines (one object per line); convert the JSON array to .jsonl`,
    );
  }
  const { limit, ids, shard } = options;
  // Every id, for duplicates: id → position among rows; rowLines.get(position) is its line. Ids are
  // held in a compact table outside the heap, so memory stays flat in the rows' content.
  const seen = new IdTable();
  const rowLines = new IntList();
  // The selected rows, when that is not all of them.
  const selective = limit !== undefined || ids !== undefined || shard !== undefined;
  const index = selective ? new IdTable() : seen;
  const samples: Sample[] = [];
  let candidates = 0;
  const found = new Set<string>();
  // A chunk of rows at a time, each handled synchronously: one hot loop (issue 15: start-up).
  for await (const batch of readJsonlBatches(path, {
    schema: rowSchema(task, options.fields),
    label: options.label,
    ...(options.onBytes ? { onBytes: options.onBytes } : {}),
    onTorn: (l) => {
      throw new BenchlineError("input", `${options.label}:${l}: incomplete last line (not valid JSON)`);
    },
  }))
    for (const { value, line } of batch) {
      const sample = task.toSample(value, line);
      const position = rowLines.length;
      const first = seen.add(sample.id, position);
      if (first !== undefined) {
        throw new BenchlineError(
          "input",
          `${options.label}:${line}: duplicate id "${sample.id}" (first at ${options.label}:${rowLines.get(first)})`,
        );
      }
      rowLines.push(line);
      if (limit !== undefined && position >= limit) continue;
      if (ids && !ids.has(sample.id)) continue;
      if (ids) found.add(sample.id);
      const candidate = candidates++;
      if (shard && candidate % shard.parts !== shard.part - 1) continue;
      if (selective) index.add(sample.id, position);
      options.onSample?.(sample, line);
      if (options.keep) samples.push(sample);
    }
  if (rowLines.length === 0) throw new BenchlineError("input", `${options.label}: the dataset has no rows`);
  return {
    task,
    path,
    label: options.label,
    index,
    rowLines,
    total: rowLines.length,
    ...(options.keep ? { samples } : {}),
    ...(ids ? { missingIds: [...ids].filter((id) => !found.has(id)) } : {}),
    ...(options.fields ? { fields: options.fields } : {}),
  };
}

/**
 * The selected samples in file order: from memory when held, else streamed from the file again
 * (it was validated by `loadSamples`; a file changed since then is read as it is now).
 */
export async function* readDataset(dataset: Dataset): AsyncGenerator<Sample> {
  if (dataset.samples) {
    yield* dataset.samples;
    return;
  }
  for await (const batch of selectedRows(dataset)) for (const { sample } of batch) yield sample;
}

/** `readDataset` with each sample's position among the dataset's rows (its `index` value). */
export async function* readDatasetEntries(
  dataset: Dataset,
): AsyncGenerator<{ sample: Sample; position: number }> {
  if (dataset.samples) {
    for (const sample of dataset.samples) yield { sample, position: dataset.index.get(sample.id)! };
    return;
  }
  for await (const batch of selectedRows(dataset)) yield* batch;
}

/** The file's selected rows with their positions, a read chunk at a time. */
async function* selectedRows(dataset: Dataset): AsyncGenerator<{ sample: Sample; position: number }[]> {
  let left = dataset.index.size;
  if (left === 0) return;
  // Every row selected (no limit, ids or shard): a row's position is its count, no look-up a row.
  const all = left === dataset.total;
  let row = 0;
  for await (const batch of readJsonlBatches(dataset.path, {
    schema: rowSchema(dataset.task, dataset.fields),
    label: dataset.label,
  })) {
    const selected: { sample: Sample; position: number }[] = [];
    for (const { value, line } of batch) {
      const sample = dataset.task.toSample(value, line);
      const position = all ? row++ : dataset.index.get(sample.id);
      if (position === undefined) continue;
      selected.push({ sample, position });
      if (--left === 0) break;
    }
    if (selected.length > 0) yield selected;
    if (left === 0) return;
  }
}

/** The selected samples by id (phases that look samples up by id). */
export async function sampleMap(dataset: Dataset): Promise<Map<string, Sample>> {
  const map = new Map<string, Sample>();
  for await (const sample of readDataset(dataset)) map.set(sample.id, sample);
  return map;
}

function rowSchema(task: Task<unknown, unknown>, fields: FieldMap | undefined) {
  return fields ? (mappedRowSchema(task, fields) as typeof task.row) : task.row;
}
