import { existsSync } from "node:fs";
import type { TrialSpec } from "../config/index.js";
import {
  BenchlineError,
  executionSchema,
  type Prediction,
  predictionSchema,
  promptRecordSchema,
  readJsonl,
  rowKey,
  type Score,
  scoreBasis,
  scoreSchema,
} from "../core/index.js";
import { type StatsSettings, SummaryBuilder, type TrialSummary } from "../report/index.js";
import { IdTable, IntList } from "../tasks/index.js";
import { trialFiles } from "./files.js";
import { RowsInStep } from "./in-step.js";
import { readJson } from "./json.js";
import { BasisTable, finalRows, type KeyScope, type KeyTable, readKeyTable, splitKey } from "./key-table.js";

export interface TrialManifest {
  name: string;
  hash: string;
  spec: TrialSpec;
}

export type SlimScore = Pick<Score, "id" | "sample" | "scorer" | "value" | "passed"> & {
  parsed?: boolean;
  dropped?: boolean;
};

/** What sees a trial's rows as its summary counts them (`loadTrialData`'s `rows`). */
export interface RowSinks {
  prediction(p: Prediction): void;
  score(s: SlimScore, category: string | undefined): void;
}

export interface TrialData {
  dir: string;
  manifest: TrialManifest;
  /** Loaded items in order: id → category (undefined without one). One map entry per item. */
  items: ReadonlyMap<string, string | undefined>;
  /**
   * Final row of each key in predictions.jsonl (rows read and validated here), flagged
   * {@link IN_SCOPE} when the key is one of the summary's (an item's sample below `samples`).
   */
  predictionLines: KeyTable;
  /**
   * The final scores the summary counts (ok predictions, the trial's scorers, current basis),
   * streamed again from scores.jsonl, in file order.
   */
  scores: () => AsyncGenerator<SlimScore>;
  summary: TrialSummary;
  /**
   * Primary scorer's per-item mean over scored samples: the unit compared between trials (empty
   * when not asked for: `perItem: false`).
   */
  perItem: Map<string, number>;
  /** Items with a primary score (the size `perItem` has when built). */
  scoredItems: number;
  /** Score rows left out because they judged an earlier completion (a rerun of scoring redoes them). */
  stale: number;
}

export interface Scope {
  /** Items: those with dataset index below `limit`; null = all. */
  limit: number | null;
  /** Samples per item; null = every sample present in the files. */
  samples: number | null;
  stats?: StatsSettings;
}

/**
 * Items in order, id → category, kept off the heap (ids in an {@link IdTable}; once any item has
 * a category, a column of each item's category index + 1 in a short list, 0 for none): a large
 * dataset's report holds no string or object per item. Read-only to its users, as a `ReadonlyMap`.
 *
 * Given the dataset's table of ids (`base`, which a run holds anyway), the items are read from it
 * while they come in its order — the k-th new item is the base's k-th entry, the usual case for a
 * trial the run wrote — so that a report of a large run keeps one table of ids, not two. The first
 * item out of that order copies the items so far into a table of their own, and the rest go there.
 */
class ItemTable implements ReadonlyMap<string, string | undefined> {
  /** Own ids, once the items left the base's order (or without a base). */
  private ids: IdTable | undefined;
  /** While `ids` is undefined: the items are the base's first `taken` entries. */
  private base: IdTable | undefined;
  private taken = 0;
  private categoryOf: IntList | undefined;
  private readonly categories: string[] = [];
  private readonly categoryIndex = new Map<string, number>();

  constructor(base?: IdTable) {
    if (base) this.base = base;
    else this.ids = new IdTable();
  }

  /** Whether the items are the base's (every item so far came in the base's order). */
  get shared(): boolean {
    return this.ids === undefined;
  }

  get size(): number {
    return this.ids ? this.ids.size : this.taken;
  }

  set(id: string, category: string | undefined): void {
    if (this.ids) {
      if (this.ids.add(id) !== undefined) return;
    } else {
      const entry = (this.base as IdTable).indexOf(id);
      if (entry !== -1 && entry < this.taken) return;
      if (entry === this.taken) this.taken++;
      else {
        const own = new IdTable();
        for (const [known] of this.positions()) own.add(known);
        own.add(id);
        this.ids = own;
        this.base = undefined;
      }
    }
    if (category === undefined) {
      this.categoryOf?.push(0);
      return;
    }
    let value = this.categoryIndex.get(category);
    if (value === undefined) {
      value = this.categories.push(category);
      this.categoryIndex.set(category, value);
    }
    if (!this.categoryOf) {
      this.categoryOf = new IntList();
      for (let i = 1; i < this.size; i++) this.categoryOf.push(0);
    }
    this.categoryOf.push(value);
  }

  has(id: string): boolean {
    return this.position(id) !== undefined;
  }

  get(id: string): string | undefined {
    const entry = this.position(id);
    return entry === undefined ? undefined : this.categoryAt(entry);
  }

  /** An item's position (0-based, item order). */
  position(id: string): number | undefined {
    if (this.ids) return this.ids.get(id);
    const entry = (this.base as IdTable).indexOf(id);
    return entry !== -1 && entry < this.taken ? entry : undefined;
  }

  /** The ids with their positions. */
  *positions(): Generator<[string, number]> {
    if (this.ids) {
      yield* this.ids.entries();
      return;
    }
    let position = 0;
    for (const id of (this.base as IdTable).keys()) {
      if (position >= this.taken) return;
      yield [id, position++];
    }
  }

  /** The id of the item at `position`. */
  idAt(position: number): string {
    return (this.ids ?? (this.base as IdTable)).keyAt(position);
  }

  /** The category of the item at `position`. */
  categoryAt(position: number): string | undefined {
    const value = this.categoryOf?.get(position);
    return value ? this.categories[value - 1] : undefined;
  }

  *entries(): MapIterator<[string, string | undefined]> {
    for (const [id, position] of this.positions()) yield [id, this.categoryAt(position)];
  }

  *keys(): MapIterator<string> {
    for (const [id] of this.positions()) yield id;
  }

  *values(): MapIterator<string | undefined> {
    for (const [, category] of this.entries()) yield category;
  }

  [Symbol.iterator](): MapIterator<[string, string | undefined]> {
    return this.entries();
  }

  forEach(
    f: (value: string | undefined, key: string, map: ReadonlyMap<string, string | undefined>) => void,
  ): void {
    for (const [id, category] of this.entries()) f(category, id, this);
  }
}

/** What a report needs of a prompt record (its messages and prompt text are neither copied nor kept). */
const promptItemSchema = promptRecordSchema.pick({ id: true, metadata: true, index: true });

/** Reads a trial directory's final rows and summarises them (no config file needed). */
export async function loadTrialData(
  dir: string,
  scope: Scope,
  options: {
    perItem?: boolean;
    /**
     * The dataset's ids as a run holds them (its `index`), likely the trial's items in the same
     * order: they are then read from it rather than copied (see `ItemTable`).
     */
    items?: IdTable;
    /**
     * Called once the trial's manifest is read, for what should see its rows as the summary
     * counts them: each final prediction of the summary's keys, then each score it counts (with
     * its item's category), in file order — a report writes its CSVs from them, in the same passes.
     */
    rows?: (manifest: TrialManifest) => RowSinks;
  } = {},
): Promise<TrialData> {
  const files = trialFiles(dir);
  if (!existsSync(files.trial))
    throw new BenchlineError("usage", `${dir}: not a trial directory (no trial.json)`);
  const manifest = readJson<TrialManifest>(files.trial);
  const sinks = options.rows?.(manifest);
  // Ids in scope (dedupe, scope of predictions) and categories in one map: nothing else per item.
  const items = new ItemTable(options.items);
  if (existsSync(files.prompts)) {
    // Items in scope: those whose dataset index is below `limit` (prompts written by shards or
    // by runs with different limits are not in dataset order); records without an index (older
    // files) count in file order.
    let unindexed = 0;
    for await (const { value } of readJsonl(files.prompts, { schema: promptItemSchema })) {
      if (items.has(value.id)) continue;
      if (scope.limit !== null) {
        const position = value.index ?? unindexed++;
        if (position >= scope.limit) continue;
      }
      const category = value.metadata?.category;
      items.set(value.id, typeof category === "string" ? category : undefined);
    }
  }
  const scorerNames = manifest.spec.scorers.map((s) => s.name);
  // Every row-level table is off the heap: a key of a loaded item is a slot at the item's position
  // (typed arrays, no bytes per key; any other key is kept by its bytes); rows are streamed from
  // the files, final rows only, and summarised as they pass (SummaryBuilder): nothing per row is
  // an object. Executions first: what a score judged (its basis) includes the execution.
  const keyScope: KeyScope = {
    size: items.size,
    position: (id) => items.position(id),
    ids: () => items.positions(),
    samples: scope.samples ?? undefined,
  };
  const executions = existsSync(files.executions)
    ? await readKeyTable<{ status?: unknown }>(
        files.executions,
        (e) => (e.status === "ok" ? EXEC_OK : 0),
        undefined,
        keyScope,
      )
    : undefined;
  let maxSample = 0;
  const predictions = await readKeyTable<{ status?: unknown; sample?: unknown }>(
    files.predictions,
    (p) => {
      maxSample = Math.max(maxSample, (p.sample as number) + 1);
      return p.status === "ok" ? PRED_OK : 0;
    },
    undefined,
    keyScope,
  );
  const samples = scope.samples ?? Math.max(1, maxSample);
  const inItems = (key: string): boolean => {
    const [id, sample] = splitKey(key);
    return items.has(id) && sample < samples;
  };
  const builder = SummaryBuilder.forTrial(
    manifest,
    { count: items.size, position: (id) => items.position(id), category: (i) => items.categoryAt(i) },
    samples,
    scorerNames,
    scope.stats,
  );
  // Each ok prediction's basis (what a current score judged), by key: the execution's outcome is
  // read in step with the predictions (executions are written in about the same order).
  const basis = new BasisTable(keyScope);
  const executionRows = executions
    ? new RowsInStep(
        (async function* () {
          for await (const { key, row } of finalRows(files.executions, executions, executionSchema))
            yield { key, row: { passed: row.passed, ended_at: row.ended_at } };
        })(),
        (key) => executions.flags(key) === EXEC_OK && predictions.flags(key) === PRED_OK,
      )
    : undefined;
  try {
    for await (const { key, row: p } of finalRows(files.predictions, predictions, predictionSchema)) {
      if (p.status === "ok") {
        const e = executions?.flags(key) === EXEC_OK ? await executionRows?.take(key) : undefined;
        basis.set(key, scoreBasis(p.completion, e));
      }
      if (!inItems(key)) continue;
      predictions.setFlags(key, (p.status === "ok" ? PRED_OK : 0) | IN_SCOPE);
      sinks?.prediction(p);
      builder.addPrediction(predictionInput(p));
    }
  } finally {
    await executionRows?.close();
  }
  const okInScope = (key: string): boolean => predictions.flags(key) === (PRED_OK | IN_SCOPE);
  if (executions) {
    builder.expectExecutions();
    for await (const { key, row: e } of finalRows(files.executions, executions, executionSchema)) {
      if (!okInScope(key)) continue;
      // For tasks that execute, a score counts only while its row's last execution ran: a
      // re-execution that then failed in the sandbox must not leave the old score standing.
      if (e.status === "ok") executions.setFlags(key, EXEC_OK | IN_SCOPE);
      builder.addExecution({
        id: e.id,
        sample: e.sample,
        status: e.status,
        passed: e.passed,
        duration_ms: Math.max(0, Date.parse(e.ended_at) - Date.parse(e.started_at)),
        ...(e.error ? { error_code: e.error.code, error_message: e.error.message.slice(0, 300) } : {}),
      });
    }
  }
  const scorable = executions ? (key: string) => executions.flags(key) === (EXEC_OK | IN_SCOPE) : okInScope;
  const scoreLines = await readKeyTable<{ sample?: unknown; id?: unknown; scorer?: unknown }>(
    files.scores,
    () => 0,
    scoreKeyOf,
    { ...keyScope, columns: scorerNames },
  );
  // A score counts only if it judged the key's current completion (and execution): `basis`.
  // Rows from before `basis` existed cannot be checked and count as they are.
  let stale = 0;
  async function* counted(onStale?: () => void): AsyncGenerator<SlimScore> {
    for await (const { row: s } of finalRows(files.scores, scoreLines, scoreSchema.loose(), scoreKeyOf)) {
      const key = rowKey(s.id, s.sample);
      if (!scorable(key) || !scorerNames.includes(s.scorer)) continue;
      const b = (s as { basis?: unknown }).basis;
      if (typeof b === "string" && !basis.matches(key, b)) {
        onStale?.();
        continue;
      }
      yield slimScore(s);
    }
  }
  for await (const s of counted(() => stale++)) {
    builder.addScore(s);
    sinks?.score(s, items.get(s.id));
  }

  const summary = builder.finish();
  if (manifest.spec.grid) summary.grid = manifest.spec.grid;
  // Per-item means for comparisons, keyed by id (in the order items were first scored); a map of
  // every item, so only built when something will be compared.
  const perItem = new Map<string, number>();
  if (options.perItem !== false) {
    for (const [id, mean] of builder.itemMeans((position) => items.idAt(position))) perItem.set(id, mean);
  }
  return {
    dir,
    manifest,
    items,
    predictionLines: predictions,
    scores: () => counted(),
    summary,
    perItem,
    scoredItems: summary.mean_ci?.n_items ?? 0,
    stale,
  };
}

/** Flags in a trial's key tables. */
const PRED_OK = 1;
const EXEC_OK = 1;
/** The key is one of the summary's (its item is loaded, its sample below `samples`). */
export const IN_SCOPE = 2;

const scoreKeyOf = (row: { id?: unknown; sample?: unknown; scorer?: unknown }): string =>
  `${row.id}\u0000${row.sample}\u0000${String(row.scorer)}`;

/** What the summary counts of a prediction row. */
export function predictionInput(p: Prediction): Parameters<SummaryBuilder["addPrediction"]>[0] {
  return {
    id: p.id,
    sample: p.sample,
    status: p.status,
    cached: p.cached,
    latency_ms: p.latency_ms,
    ...(p.error ? { error_code: p.error.code, error_message: p.error.message.slice(0, 300) } : {}),
    ...(p.usage
      ? { prompt_tokens: p.usage.prompt_tokens, completion_tokens: p.usage.completion_tokens }
      : {}),
    ...(p.cost_usd !== undefined ? { cost_usd: p.cost_usd } : {}),
  };
}

/** What the summary and the scores CSV use of a score row. */
export function slimScore(s: Score): SlimScore {
  return {
    id: s.id,
    sample: s.sample,
    scorer: s.scorer,
    value: s.value,
    passed: s.passed,
    ...answerParse(s.detail),
  };
}

/** Whether an answer-extracting scorer (`math`, ...) found an answer, and whether the row is dropped. */
function answerParse(detail: unknown): { parsed?: boolean; dropped?: boolean } {
  if (typeof detail !== "object" || detail === null) return {};
  const d = detail as { parsed?: unknown; dropped?: unknown };
  return {
    ...(typeof d.parsed === "boolean" ? { parsed: d.parsed } : {}),
    ...(d.dropped === true ? { dropped: true } : {}),
  };
}
