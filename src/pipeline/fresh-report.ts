import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type Prediction, type Score, stableStringify } from "../core/index.js";
import { SummaryBuilder, type TrialSummary } from "../report/index.js";
import type { TrialContext } from "./context.js";
import { predictionCsvLine, scoreCsvLine } from "./csv-rows.js";
import { removeQuietly } from "./json.js";
import { predictionInput, type Scope, slimScore, type TrialData } from "./trial-data.js";

/** What the report needs of a trial whose summary was built as its rows were written. */
export type FreshTrialData = Pick<TrialData, "summary" | "perItem" | "scoredItems" | "stale"> & {
  /** The trial's lines of predictions.csv and per_item_scores.csv, written with its rows. */
  csv: { predictions: string; scores: string };
};

/**
 * A trial's summary built while the run writes its rows, for a trial the run starts from nothing
 * and scores as answers arrive (`InlineScores`): the report then need not read the trial's
 * prompts, predictions and scores back and key them (about a second for 20,000 rows, all of it
 * after the last answer). It sees the rows in the order they are written, which is the order the
 * report's loader reads them in, so the summary is the loader's (tested byte for byte against
 * `benchline report`).
 *
 * Its lines of the experiment's CSV files are written beside its rows too (`CsvPart`s in the trial
 * directory, removed once the report has copied them).
 *
 * Only for the simple case, checked when opened: no prompts on file yet (this run writes every
 * record, once, with its dataset position), and the selected items are the dataset's first rows
 * (their positions are the item order the loader gives them). Anything else — a score that could
 * not be fed, a report scope other than the run's — and the report reads the files as always.
 */
export class FreshReport {
  private readonly builder: SummaryBuilder;
  /** Category index + 1 per item position (0: none), made at the first category. */
  private categoryOf: Uint32Array | undefined;
  private readonly categories: string[] = [];
  private readonly categoryIndex = new Map<string, number>();
  private spoiled = false;
  private readonly scope: string;
  private readonly head: string[];
  private readonly csv: { predictions: CsvPart; scores: CsvPart };

  private constructor(private readonly ctx: TrialContext) {
    const { exp, trial } = ctx;
    const index = exp.dataset.index;
    this.scope = scopeKey({ limit: exp.limit ?? null, samples: exp.samplesPerItem, stats: exp.stats });
    this.head = [trial.name, trial.spec.model.id, trial.spec.prompt_set.name];
    const predictions = new CsvPart(join(ctx.files.dir, `.predictions.csv.tmp-${process.pid}`));
    this.csv = { predictions, scores: new CsvPart(join(ctx.files.dir, `.scores.csv.tmp-${process.pid}`)) };
    this.builder = SummaryBuilder.forTrial(
      trial,
      {
        count: index.size,
        position: (id) => index.get(id),
        category: (position) => this.categoryAt(position),
      },
      exp.samplesPerItem,
      trial.spec.scorers.map((s) => s.name),
      exp.stats,
    );
  }

  /** Undefined when the trial is not the simple case above. */
  static open(ctx: TrialContext): FreshReport | undefined {
    const { exp, trial, files } = ctx;
    if (existsSync(files.prompts)) return undefined;
    const first = Math.min(exp.dataset.total, exp.limit ?? Number.POSITIVE_INFINITY);
    if (exp.dataset.index.size !== first) return undefined;
    const names = trial.spec.scorers.map((s) => s.name);
    if (new Set(names).size !== names.length) return undefined;
    if (stableStringify(names) !== stableStringify(exp.scorers.map((s) => s.name))) return undefined;
    return new FreshReport(ctx);
  }

  /**
   * A prediction row, as it is written; `category` is its item's, `position` its item's dataset
   * position when the caller knows it (the prompt's `index`; else it is looked up by id).
   */
  prediction(row: Prediction, category: unknown, position = this.ctx.exp.dataset.index.get(row.id)): void {
    if (typeof category === "string" && position !== undefined) this.setCategory(position, category);
    this.builder.addPrediction(predictionInput(row));
    this.csv.predictions.add(predictionCsvLine(this.head, row));
  }

  /** A score row, as it is written (`position` as for `prediction`). */
  score(score: Score, position = this.ctx.exp.dataset.index.get(score.id)): void {
    // The loader reads back what JSON keeps: a value that is not a finite number is not this one.
    if (!Number.isFinite(score.value)) this.spoiled = true;
    this.builder.addScore(slimScore(score), position);
    const category = position === undefined ? undefined : this.categoryAt(position);
    this.csv.scores.add(scoreCsvLine(this.head, score, category));
  }

  /** Writes the CSV lines of the rows fed since the last call (with the rows' own flush). */
  flush(): void {
    this.csv.predictions.flush();
    this.csv.scores.flush();
  }

  /** Removes the CSV parts (after the report copied them, or when it will read the files). */
  discard(): void {
    this.spoiled = true;
    this.csv.predictions.remove();
    this.csv.scores.remove();
  }

  /**
   * The trial's report data for a report over `scope` (undefined if this cannot stand for the
   * files: spoiled, or another scope). Called once, after the trial's last row.
   */
  data(scope: Scope, options: { perItem: boolean }): FreshTrialData | undefined {
    if (this.spoiled || scopeKey(scope) !== this.scope) return undefined;
    this.spoiled = true; // finish() is once only
    this.csv.predictions.close();
    this.csv.scores.close();
    const summary: TrialSummary = this.builder.finish();
    if (this.ctx.trial.spec.grid) summary.grid = this.ctx.trial.spec.grid;
    const perItem = new Map<string, number>();
    if (options.perItem) {
      // The items are the dataset's first rows: an item's position is its entry in the id table.
      const index = this.ctx.exp.dataset.index;
      for (const [id, mean] of this.builder.itemMeans((position) => index.keyAt(position)))
        perItem.set(id, mean);
    }
    return {
      summary,
      perItem,
      scoredItems: summary.mean_ci?.n_items ?? 0,
      stale: 0,
      csv: { predictions: this.csv.predictions.path, scores: this.csv.scores.path },
    };
  }

  private categoryAt(position: number): string | undefined {
    const value = this.categoryOf?.[position];
    return value ? this.categories[value - 1] : undefined;
  }

  private setCategory(position: number, category: string): void {
    let value = this.categoryIndex.get(category);
    if (value === undefined) {
      value = this.categories.push(category);
      this.categoryIndex.set(category, value);
    }
    this.categoryOf ??= new Uint32Array(this.ctx.exp.dataset.index.size);
    this.categoryOf[position] = value;
  }
}

function scopeKey(scope: Pick<Scope, "limit" | "samples" | "stats">): string {
  return stableStringify({ limit: scope.limit, samples: scope.samples, stats: scope.stats ?? null });
}

/** Lines of CSV appended to a file as they are flushed (no header; a fresh trial's rows). */
class CsvPart {
  private fd: number | undefined;
  private pending = "";

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
  }

  add(line: string): void {
    this.pending += line;
    if (this.pending.length >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.fd === undefined || this.pending === "") return;
    const bytes = Buffer.from(this.pending);
    this.pending = "";
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(this.fd, bytes, offset);
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  remove(): void {
    this.pending = "";
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    removeQuietly(this.path);
  }
}
