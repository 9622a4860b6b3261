import { existsSync } from "node:fs";
import { type Prediction, type Score, stableStringify } from "../core/index.js";
import { SummaryBuilder, type TrialSummary } from "../report/index.js";
import type { TrialContext } from "./context.js";
import { predictionInput, type Scope, slimScore, type TrialData } from "./trial-data.js";

/** What the report needs of a trial whose summary was built as its rows were written. */
export type FreshTrialData = Pick<TrialData, "summary" | "perItem" | "scoredItems" | "stale"> & {
  /** An item's category, by id (as its prompt record has it). */
  category(id: string): string | undefined;
};

/**
 * A trial's summary built while the run writes its rows, for a trial the run starts from nothing
 * and scores as answers arrive (`InlineScores`): the report then need not read the trial's
 * prompts, predictions and scores back and key them (about a second for 20,000 rows, all of it
 * after the last answer). It sees the rows in the order they are written, which is the order the
 * report's loader reads them in, so the summary is the loader's (tested byte for byte against
 * `benchline report`).
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

  private constructor(private readonly ctx: TrialContext) {
    const { exp, trial } = ctx;
    const index = exp.dataset.index;
    this.scope = scopeKey({ limit: exp.limit ?? null, samples: exp.samplesPerItem, stats: exp.stats });
    this.builder = new SummaryBuilder(
      {
        name: trial.name,
        model: trial.spec.model.id,
        prompt_set: trial.spec.prompt_set.name,
        task: trial.spec.task.name,
      },
      {
        count: index.size,
        position: (id) => index.get(id),
        category: (position) => {
          const value = this.categoryOf?.[position];
          return value ? this.categories[value - 1] : undefined;
        },
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

  /** A prediction row, as it is written; `category` is its item's. */
  prediction(row: Prediction, category: unknown): void {
    if (typeof category === "string") this.setCategory(row.id, category);
    this.builder.addPrediction(predictionInput(row));
  }

  /** A score row, as it is written. */
  score(score: Score): void {
    // The loader reads back what JSON keeps: a value that is not a finite number is not this one.
    if (!Number.isFinite(score.value)) this.spoiled = true;
    this.builder.addScore(slimScore(score));
  }

  /** Something was written that was not fed here: the report reads the files. */
  spoil(): void {
    this.spoiled = true;
  }

  /**
   * The trial's report data for a report over `scope` (undefined if this cannot stand for the
   * files: spoiled, or another scope). Called once, after the trial's last row.
   */
  data(scope: Scope, options: { perItem: boolean }): FreshTrialData | undefined {
    if (this.spoiled || scopeKey(scope) !== this.scope) return undefined;
    this.spoiled = true; // finish() is once only
    const summary: TrialSummary = this.builder.finish();
    if (this.ctx.trial.spec.grid) summary.grid = this.ctx.trial.spec.grid;
    const perItem = new Map<string, number>();
    if (options.perItem) {
      const ids = [...this.ctx.exp.dataset.index.keys()];
      for (const [id, mean] of this.builder.itemMeans((position) => ids[position]!)) perItem.set(id, mean);
    }
    const category = (id: string): string | undefined => {
      const position = this.ctx.exp.dataset.index.get(id);
      const value = position === undefined ? undefined : this.categoryOf?.[position];
      return value ? this.categories[value - 1] : undefined;
    };
    return { summary, perItem, scoredItems: summary.mean_ci?.n_items ?? 0, stale: 0, category };
  }

  private setCategory(id: string, category: string): void {
    const position = this.ctx.exp.dataset.index.get(id);
    if (position === undefined) return;
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
