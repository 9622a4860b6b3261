import { existsSync } from "node:fs";
import type { TrialSpec } from "../config/index.js";
import {
  BenchlineError,
  executionSchema,
  predictionSchema,
  promptRecordSchema,
  readJsonl,
  rowKey,
  type Score,
  scoreBasis,
  scoreSchema,
} from "../core/index.js";
import { type StatsSettings, type SummaryInput, summarizeTrial, type TrialSummary } from "../report/index.js";
import { IdTable, IntList } from "../tasks/index.js";
import { lastByKey, trialFiles } from "./files.js";
import { readJson } from "./json.js";

export interface TrialManifest {
  name: string;
  hash: string;
  spec: TrialSpec;
}

export type SlimScore = Pick<Score, "id" | "sample" | "scorer" | "value" | "passed"> & {
  parsed?: boolean;
  dropped?: boolean;
};

export interface TrialData {
  dir: string;
  manifest: TrialManifest;
  /** Loaded items in order: id → category (undefined without one). One map entry per item. */
  items: ReadonlyMap<string, string | undefined>;
  /** Line in predictions.jsonl of the final row of each key (rows read and validated here). */
  predictionLines: Map<string, number>;
  /** Final score per (id, sample, scorer) of ok predictions, for the trial's scorers. */
  scores: SlimScore[];
  summary: TrialSummary;
  /** Primary scorer's per-item mean over scored samples: the unit compared between trials. */
  perItem: Map<string, number>;
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
 */
class ItemTable implements ReadonlyMap<string, string | undefined> {
  private readonly ids = new IdTable();
  private categoryOf: IntList | undefined;
  private readonly categories: string[] = [];
  private readonly categoryIndex = new Map<string, number>();

  get size(): number {
    return this.ids.size;
  }

  set(id: string, category: string | undefined): void {
    if (this.ids.add(id) !== undefined) return;
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
      for (let i = 1; i < this.ids.size; i++) this.categoryOf.push(0);
    }
    this.categoryOf.push(value);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  get(id: string): string | undefined {
    const entry = this.ids.get(id);
    const value = entry === undefined ? undefined : this.categoryOf?.get(entry);
    return value ? this.categories[value - 1] : undefined;
  }

  *entries(): MapIterator<[string, string | undefined]> {
    for (const id of this.ids.keys()) yield [id, this.get(id)];
  }

  *keys(): MapIterator<string> {
    yield* this.ids.keys();
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
export async function loadTrialData(dir: string, scope: Scope): Promise<TrialData> {
  const files = trialFiles(dir);
  if (!existsSync(files.trial))
    throw new BenchlineError("usage", `${dir}: not a trial directory (no trial.json)`);
  const manifest = readJson<TrialManifest>(files.trial);
  // Ids in scope (dedupe, scope of predictions) and categories in one map: nothing else per item.
  const items = new ItemTable();
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
  // Executions first: what a score judged (its basis) includes the execution's outcome.
  const allExecutions = existsSync(files.executions)
    ? await lastByKey(files.executions, executionSchema, (e) => ({
        id: e.id,
        sample: e.sample,
        status: e.status,
        passed: e.passed,
        ended_at: e.ended_at,
        duration_ms: Math.max(0, Date.parse(e.ended_at) - Date.parse(e.started_at)),
        ...(e.error ? { error_code: e.error.code, error_message: e.error.message.slice(0, 300) } : {}),
      }))
    : undefined;
  // Only what summaries need is kept per row (no completions, no outputs): memory stays small.
  // A score counts only if it judged the key's current completion (and execution): `basis`.
  const basis = new Map<string, string>();
  type Slim = SummaryInput["predictions"][number];
  const allLines = new Map<string, number>();
  const allPredictions = await lastByKey(files.predictions, predictionSchema, (p, { line }): Slim => {
    const key = rowKey(p.id, p.sample);
    allLines.set(key, line);
    if (p.status === "ok") {
      const e = allExecutions?.get(key);
      basis.set(key, scoreBasis(p.completion, e?.status === "ok" ? e : undefined));
    } else basis.delete(key);
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
  });
  let maxSample = 0;
  for (const p of allPredictions.values()) maxSample = Math.max(maxSample, p.sample + 1);
  const samples = scope.samples ?? Math.max(1, maxSample);
  // In scope: an item's samples below `samples` (`items` holds exactly the items' ids).
  const predictions: Slim[] = [];
  const predictionLines = new Map<string, number>();
  for (const [k, p] of allPredictions) {
    if (!items.has(p.id) || p.sample >= samples) continue;
    predictions.push(p);
    predictionLines.set(k, allLines.get(k)!);
  }
  allPredictions.clear();
  allLines.clear();
  const okKeys = new Set(predictions.filter((p) => p.status === "ok").map((p) => rowKey(p.id, p.sample)));
  const executions = allExecutions
    ? [...allExecutions.entries()].filter(([k]) => okKeys.has(k)).map(([, { ended_at: _, ...e }]) => e)
    : undefined;
  const scorerNames = manifest.spec.scorers.map((s) => s.name);
  // For tasks that execute, a score counts only while its row's last execution ran: a
  // re-execution that then failed in the sandbox must not leave the old score standing.
  const scorable = executions
    ? new Set(executions.filter((e) => e.status === "ok").map((e) => rowKey(e.id, e.sample)))
    : okKeys;
  const scoreKey = (s: Score): string => `${rowKey(s.id, s.sample)}\u0000${s.scorer}`;
  let stale = 0;
  const current = (s: SlimScore & { basis?: string }): boolean => {
    // Rows from before `basis` existed cannot be checked and count as they are.
    if (s.basis === undefined || s.basis === basis.get(rowKey(s.id, s.sample))) return true;
    stale++;
    return false;
  };
  const scores: SlimScore[] = [
    ...(
      await lastByKey(
        files.scores,
        scoreSchema.loose(),
        (s): SlimScore & { basis?: string } => {
          const b = (s as { basis?: unknown }).basis;
          return {
            id: s.id,
            sample: s.sample,
            scorer: s.scorer,
            value: s.value,
            passed: s.passed,
            ...answerParse(s.detail),
            ...(typeof b === "string" ? { basis: b } : {}),
          };
        },
        scoreKey,
      )
    ).values(),
  ]
    .filter((s) => scorable.has(rowKey(s.id, s.sample)) && scorerNames.includes(s.scorer) && current(s))
    .map(({ basis: _, ...s }) => s);
  basis.clear();

  const input: SummaryInput = {
    trial: {
      name: manifest.name,
      model: manifest.spec.model.id,
      prompt_set: manifest.spec.prompt_set.name,
      task: manifest.spec.task.name,
    },
    items,
    samplesPerItem: samples,
    predictions,
    ...(executions ? { executions } : {}),
    scores,
    scorers: scorerNames,
    ...(scope.stats ? { stats: scope.stats } : {}),
  };
  const summary = summarizeTrial(input);
  if (manifest.spec.grid) summary.grid = manifest.spec.grid;

  const sums = new Map<string, { total: number; n: number }>();
  for (const s of scores) {
    if (s.scorer !== summary.primary_scorer || s.dropped) continue;
    const acc = sums.get(s.id) ?? { total: 0, n: 0 };
    acc.total += s.value;
    acc.n++;
    sums.set(s.id, acc);
  }
  const perItem = new Map([...sums].map(([id, { total, n }]) => [id, total / n]));
  return { dir, manifest, items, predictionLines, scores, summary, perItem, stale };
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
