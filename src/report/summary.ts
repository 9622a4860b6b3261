import { bootstrapCI, type PassAtKRow, passAtKTableUniform } from "../stats/index.js";

/** Settings of the statistics in summaries and comparisons (`stats:` in the experiment file). */
export interface StatsSettings {
  iterations: number;
  confidence: number;
  seed: number;
  alpha: number;
  /** k values for pass@k; default every k ≤ n. */
  pass_at_k?: number[];
  /** Which trials are compared: each against a baseline (default; k − 1 pairs) or every pair. */
  comparisons?: "baseline" | "all";
  /** The baseline model's id (default: the first model). */
  baseline?: string;
}

export const DEFAULT_STATS: StatsSettings = { iterations: 10_000, confidence: 0.95, seed: 0, alpha: 0.05 };

/**
 * Per-trial summary (summary.json): a pure function of the trial's final rows. Deterministic —
 * no timestamps — so rebuilding it from unchanged files gives identical bytes.
 */
export interface SummaryInput {
  trial: { name: string; model: string; prompt_set: string; task: string };
  /**
   * Loaded items: id and category, as a list or (compact, for large datasets) as a map from id
   * to category in item order.
   */
  items: readonly { id: string; category?: string }[] | ReadonlyMap<string, string | undefined>;
  samplesPerItem: number;
  /** Final prediction per (id, sample) for loaded items. */
  predictions: {
    id: string;
    sample: number;
    status: "ok" | "error";
    error_code?: string;
    error_message?: string;
    cached: boolean;
    latency_ms: number;
    prompt_tokens?: number;
    completion_tokens?: number;
    cost_usd?: number;
  }[];
  /** Final execution per (id, sample), for tasks that execute. */
  executions?: {
    id: string;
    sample: number;
    status: "ok" | "error";
    passed: boolean;
    error_code?: string;
    error_message?: string;
    duration_ms?: number;
  }[];
  /**
   * Final score per (id, sample, scorer). `parsed`: whether the scorer found an answer to grade
   * (answer-extracting scorers such as `math`); `dropped`: an unparsed row the task leaves out of
   * the denominator (the published-number convention), excluded from every mean.
   */
  scores: {
    id: string;
    sample: number;
    scorer: string;
    value: number;
    passed: boolean;
    parsed?: boolean;
    dropped?: boolean;
  }[];
  scorers: string[];
  stats?: StatsSettings;
}

export interface ScorerSummary {
  /** Scored predictions. */
  n: number;
  /** Mean over scored predictions (errors excluded); null when nothing was scored. */
  mean: number | null;
  /** Mean with every expected prediction that has no score (errors, missing) counted as 0. */
  mean_errors_as_wrong: number | null;
  passed: number;
  /** Scored predictions in which an answer was found, for scorers that extract one. */
  parse?: { parsed: number; rate: number };
  /** Unparsed predictions left out of `n` and every mean (task option `unparsed: drop`). */
  dropped_unparsed?: number;
}

export interface TrialSummary {
  trial: string;
  model: string;
  /** The sweep point of a swept model entry (`grid:`, lists for `c`/`k`). */
  grid?: Record<string, unknown>;
  prompt_set: string;
  task: string;
  items: number;
  samples_per_item: number;
  predictions: { expected: number; ok: number; error: number; missing: number; cached: number };
  executions?: { total: number; passed: number; failed: number; error: number };
  primary_scorer: string;
  /**
   * The primary scorer's mean over items (each item: the mean of its scored samples), the same
   * unit as `mean_ci` and the paired comparisons; errors excluded. `scorers[…].mean` is the
   * pooled mean over scored predictions.
   */
  mean_score: number | null;
  /**
   * Bootstrap CI of the primary scorer's mean, resampling items (each item's value is the mean
   * over its scored samples); seeded, so it is reproducible.
   */
  mean_ci: { low: number; high: number; confidence: number; iterations: number; n_items: number } | null;
  /** Unbiased pass@k (Chen et al. 2021) on the primary scorer's `passed`; errors count as failures. */
  pass_at_k: PassAtKRow[];
  scorers: Record<string, ScorerSummary>;
  /** Error rows (generation and execution) by code, with the first message seen for each code. */
  errors: {
    count: number;
    rate: number;
    by_code: Record<string, number>;
    /** Absent in summaries written before it was added. */
    examples?: Record<string, string>;
  };
  per_category: Record<string, { n: number; mean: number | null }>;
  /** Time spent, summed over rows: model calls (cache hits excluded) and sandboxed executions. */
  timing: { inference_ms: number; execution_ms: number };
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    cost_usd: number;
    latency_ms_mean: number | null;
    latency_ms_p50: number | null;
    latency_ms_p95: number | null;
    /** Completion tokens per second of model time (summed latencies of non-cached requests). */
    tokens_per_s: number | null;
  };
}

const round = (x: number, digits = 6): number => Number(x.toFixed(digits));
/** The mean of values summed in order as they came (null for none). */
const meanOfSum = (sum: number, n: number): number | null => (n === 0 ? null : round(sum / n));

function quantile(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return round(sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo), 1);
}

/** Item count and (id, category) pairs in item order, from either form of `SummaryInput.items`. */
function itemsOf(items: SummaryInput["items"]): {
  count: number;
  entries: () => Iterable<[string, string | undefined]>;
} {
  if (!Array.isArray(items)) {
    const map = items as ReadonlyMap<string, string | undefined>;
    return { count: map.size, entries: () => map.entries() };
  }
  const list = items as readonly { id: string; category?: string }[];
  return {
    count: list.length,
    entries: () => list.map((i): [string, string | undefined] => [i.id, i.category]),
  };
}

/**
 * A trial's items for {@link SummaryBuilder}: how many, each one's position (0..count-1, item
 * order) and category. The run files' loader passes an off-heap table; {@link summarizeTrial}
 * builds one from its lists.
 */
export interface SummaryItems {
  count: number;
  position(id: string): number | undefined;
  category(position: number): string | undefined;
}

type PredictionRow = SummaryInput["predictions"][number];
type ExecutionRow = NonNullable<SummaryInput["executions"]>[number];
type ScoreRow = SummaryInput["scores"][number];

/** A growing list of doubles in one typed array (off the JavaScript heap). */
/**
 * A growing list of numbers: whole numbers in [0, 2^32) (latencies in ms, as providers write them)
 * in 4 bytes each, until one is not, then every value in 8.
 */
class NumberList {
  items: Uint32Array | Float64Array;
  length = 0;
  /** `capacity`: how many are expected (the array grows past it if need be). */
  constructor(capacity = 1024) {
    this.items = new Uint32Array(Math.max(16, capacity));
  }
  push(x: number): void {
    if (this.items instanceof Uint32Array && !(Number.isInteger(x) && x >= 0 && x < 2 ** 32)) {
      const wide = new Float64Array(this.items.length);
      wide.set(this.items.subarray(0, this.length));
      this.items = wide;
    }
    if (this.length === this.items.length) {
      const bigger = new (this.items.constructor as typeof Float64Array)(this.items.length * 2);
      bigger.set(this.items);
      this.items = bigger;
    }
    this.items[this.length++] = x;
  }
}

/**
 * Per-trial summary built from rows streamed one at a time (predictions, then executions, then
 * scores — each the final row of its key): memory holds counters and a few numbers per item in
 * typed arrays, never the rows. The same figures as {@link summarizeTrial} on lists.
 */
export class SummaryBuilder {
  private readonly primary: string;
  private predictionCount = 0;
  private ok = 0;
  private errored = 0;
  private cached = 0;
  private readonly byCode: Record<string, number> = {};
  private readonly examples: Record<string, string> = {};
  /** Made for every expected prediction at once (an untouched tail costs no memory). */
  private readonly latencies: NumberList;
  private okTokens = 0;
  private promptTokens = 0;
  private completionTokens = 0;
  private cost = 0;
  private executions:
    | { total: number; passed: number; failed: number; error: number; ms: number }
    | undefined;
  private readonly scorers = new Map<
    string,
    { n: number; sum: number; passed: number; withParse: number; parsed: number; dropped: number }
  >();
  private readonly categorySums = new Map<string, { sum: number; n: number }>();
  /** Primary scorer per item position: sum of values, scored samples, passed samples; 1 dropped, 2 kept. */
  private readonly itemSum: Float64Array;
  /** Counts up to a sample count: 2 bytes each, 4 once one passes 65,535. */
  private itemN: Uint16Array | Uint32Array;
  private itemPassed: Uint16Array | Uint32Array;
  private readonly itemMarks: Uint8Array;
  /** Item positions in the order of their first primary score (the order of the CI's resampling). */
  private readonly itemOrder: Int32Array;
  private orderLength = 0;
  /** Primary scores of ids that are not items (lists given to summarizeTrial only). */
  private readonly strays = new Map<string, { sum: number; n: number; passed: number }>();

  constructor(
    private readonly trial: SummaryInput["trial"],
    private readonly items: SummaryItems,
    private readonly samplesPerItem: number,
    private readonly scorerNames: string[],
    private readonly stats: StatsSettings = DEFAULT_STATS,
  ) {
    this.primary = scorerNames[0] ?? "";
    for (const name of scorerNames)
      this.scorers.set(name, { n: 0, sum: 0, passed: 0, withParse: 0, parsed: 0, dropped: 0 });
    const count = items.count;
    this.latencies = new NumberList(count * samplesPerItem);
    this.itemSum = new Float64Array(count);
    this.itemN = new Uint16Array(count);
    this.itemPassed = new Uint16Array(count);
    this.itemMarks = new Uint8Array(count);
    this.itemOrder = new Int32Array(count);
  }

  addPrediction(p: PredictionRow): void {
    this.predictionCount++;
    if (p.status === "ok") {
      this.ok++;
      if (p.cached) this.cached++;
      else {
        this.latencies.push(p.latency_ms);
        this.okTokens += p.completion_tokens ?? 0;
      }
    } else {
      this.errored++;
      this.countError(p.error_code ?? "error", p.error_message);
    }
    this.promptTokens += p.prompt_tokens ?? 0;
    this.completionTokens += p.completion_tokens ?? 0;
    this.cost += p.cost_usd ?? 0;
  }

  addExecution(e: ExecutionRow): void {
    this.expectExecutions();
    const x = this.executions!;
    x.total++;
    if (e.status === "error") {
      x.error++;
      this.countError(`execution:${e.error_code ?? "error"}`, e.error_message);
    } else if (e.passed) x.passed++;
    else x.failed++;
    x.ms += e.duration_ms ?? 0;
  }

  /** Marks the trial as one that executes (its summary has `executions` even with none). */
  expectExecutions(): void {
    this.executions ??= { total: 0, passed: 0, failed: 0, error: 0, ms: 0 };
  }

  addScore(s: ScoreRow): void {
    const acc = this.scorers.get(s.scorer);
    if (acc && s.parsed !== undefined) {
      acc.withParse++;
      if (s.parsed) acc.parsed++;
    }
    const primary = s.scorer === this.primary;
    const position = primary ? this.items.position(s.id) : undefined;
    if (s.dropped) {
      if (acc) acc.dropped++;
      if (position !== undefined) this.itemMarks[position]! |= 1;
      return;
    }
    if (acc) {
      acc.n++;
      acc.sum += s.value;
      if (s.passed) acc.passed++;
    }
    if (!primary) return;
    if (position === undefined) {
      const stray = this.strays.get(s.id) ?? { sum: 0, n: 0, passed: 0 };
      stray.sum += s.value;
      stray.n++;
      this.strays.set(s.id, stray);
      return;
    }
    const category = this.items.category(position);
    if (category !== undefined) {
      const c = this.categorySums.get(category) ?? { sum: 0, n: 0 };
      c.sum += s.value;
      c.n++;
      this.categorySums.set(category, c);
    }
    this.itemMarks[position]! |= 2;
    if (this.itemN[position] === 0) this.itemOrder[this.orderLength++] = position;
    this.itemSum[position]! += s.value;
    if (this.itemN[position] === 0xffff && this.itemN instanceof Uint16Array)
      this.itemN = Uint32Array.from(this.itemN);
    this.itemN[position]!++;
    if (s.passed) {
      if (this.itemPassed[position] === 0xffff && this.itemPassed instanceof Uint16Array)
        this.itemPassed = Uint32Array.from(this.itemPassed);
      this.itemPassed[position]!++;
    }
  }

  /**
   * The primary scorer's mean per scored item, in the order items were first scored (`idOf` gives
   * an item's id from its position).
   */
  *itemMeans(idOf?: (position: number) => string): Generator<[string, number]> {
    for (let i = 0; i < this.orderLength; i++) {
      const position = this.itemOrder[i]!;
      yield [idOf ? idOf(position) : "", this.itemSum[position]! / this.itemN[position]!];
    }
    for (const [id, { sum, n }] of this.strays) yield [id, sum / n];
  }

  finish(): TrialSummary {
    const itemCount = this.items.count;
    const expected = itemCount * this.samplesPerItem;
    const scorers: Record<string, ScorerSummary> = {};
    for (const name of this.scorerNames) {
      const acc = this.scorers.get(name)!;
      scorers[name] = {
        n: acc.n,
        mean: meanOfSum(acc.sum, acc.n),
        mean_errors_as_wrong: expected === 0 ? null : round(acc.sum / expected),
        passed: acc.passed,
      };
      if (acc.withParse > 0) {
        scorers[name].parse = { parsed: acc.parsed, rate: round(acc.parsed / acc.withParse) };
        if (acc.dropped > 0) scorers[name].dropped_unparsed = acc.dropped;
      }
    }
    // The mean over items, summed in item order; the items' means are only made into an array
    // for the bootstrap, which a constant sample (every item right, say) does not need.
    let itemTotal = 0;
    let itemsScored = 0;
    let first: number | undefined;
    let constant = true;
    for (const [, mean] of this.itemMeans()) {
      itemTotal += mean;
      itemsScored++;
      first ??= mean;
      if (mean !== first || !Number.isFinite(mean)) constant = false; // bootstrapCI refuses non-finite
    }
    let meanCi: TrialSummary["mean_ci"] = null;
    if (itemsScored > 0) {
      let ci = { low: itemTotal / itemsScored, high: itemTotal / itemsScored };
      if (!constant) {
        const means = new Float64Array(itemsScored);
        let m = 0;
        for (const [, mean] of this.itemMeans()) means[m++] = mean;
        ci = bootstrapCI(means, {
          iterations: this.stats.iterations,
          confidence: this.stats.confidence,
          seed: this.stats.seed,
        });
      }
      meanCi = {
        low: round(ci.low),
        high: round(ci.high),
        confidence: this.stats.confidence,
        iterations: this.stats.iterations,
        n_items: itemsScored,
      };
    }
    // Items whose every primary score is dropped (cvdp: skipped, no judge) are not in pass@k at all.
    let leftOut = 0;
    for (let i = 0; i < itemCount; i++) if (this.itemMarks[i] === 1) leftOut++;
    let passAtK: TrialSummary["pass_at_k"] = [];
    if (this.primary && itemCount > 0) {
      const counts = new Uint32Array(itemCount - leftOut);
      let k = 0;
      for (let i = 0; i < itemCount; i++) if (this.itemMarks[i] !== 1) counts[k++] = this.itemPassed[i]!;
      passAtK = passAtKTableUniform(this.samplesPerItem, counts, this.stats.pass_at_k).map((r) => ({
        ...r,
        pass_at_k: round(r.pass_at_k),
      }));
    }
    const latencies = this.latencies.items.subarray(0, this.latencies.length).sort();
    let latencySum = 0;
    for (const x of latencies) latencySum += x;
    const seconds = latencySum / 1000;
    const execErrors = this.executions?.error ?? 0;
    const errorCount = this.errored + execErrors;
    const summary: TrialSummary = {
      trial: this.trial.name,
      model: this.trial.model,
      prompt_set: this.trial.prompt_set,
      task: this.trial.task,
      items: itemCount,
      samples_per_item: this.samplesPerItem,
      predictions: {
        expected,
        ok: this.ok,
        error: this.errored,
        missing: expected - this.predictionCount,
        cached: this.cached,
      },
      primary_scorer: this.primary,
      mean_score: itemsScored === 0 ? null : round(itemTotal / itemsScored),
      mean_ci: meanCi,
      pass_at_k: passAtK,
      scorers,
      errors: {
        count: errorCount,
        rate: expected === 0 ? 0 : round(errorCount / expected),
        by_code: sortKeys(this.byCode),
        examples: sortKeys(this.examples),
      },
      per_category: Object.fromEntries(
        [...this.categorySums.keys()].sort().map((c) => [
          c,
          {
            n: this.categorySums.get(c)!.n,
            mean: meanOfSum(this.categorySums.get(c)!.sum, this.categorySums.get(c)!.n),
          },
        ]),
      ),
      timing: { inference_ms: latencySum, execution_ms: this.executions?.ms ?? 0 },
      usage: {
        prompt_tokens: this.promptTokens,
        completion_tokens: this.completionTokens,
        cost_usd: round(this.cost),
        latency_ms_mean: meanOfSum(latencySum, latencies.length),
        latency_ms_p50: quantile(latencies, 0.5),
        latency_ms_p95: quantile(latencies, 0.95),
        tokens_per_s: this.okTokens > 0 && seconds > 0 ? round(this.okTokens / seconds, 1) : null,
      },
    };
    if (this.executions) {
      const { total, passed, failed, error } = this.executions;
      summary.executions = { total, passed, failed, error };
    }
    return summary;
  }

  private countError(code: string, message: string | undefined): void {
    this.byCode[code] = (this.byCode[code] ?? 0) + 1;
    if (this.examples[code] === undefined && message) this.examples[code] = message;
  }
}

/** Per-trial summary of rows given as lists (see {@link SummaryBuilder} for rows streamed). */
export function summarizeTrial(input: SummaryInput): TrialSummary {
  const { count, entries } = itemsOf(input.items);
  const positions = new Map<string, number>();
  const categories: (string | undefined)[] = [];
  for (const [id, category] of entries()) {
    if (positions.has(id)) continue;
    positions.set(id, categories.length);
    categories.push(category);
  }
  const builder = new SummaryBuilder(
    input.trial,
    { count, position: (id) => positions.get(id), category: (i) => categories[i] },
    input.samplesPerItem,
    input.scorers,
    input.stats,
  );
  for (const p of input.predictions) builder.addPrediction(p);
  if (input.executions) {
    builder.expectExecutions();
    for (const e of input.executions) builder.addExecution(e);
  }
  for (const s of input.scores) builder.addScore(s);
  return builder.finish();
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, record[k]!]),
  );
}
