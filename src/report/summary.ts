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

/** The q-quantile of `length` values in ascending order (`at(i)`: the i-th). */
function quantile(length: number, at: (i: number) => number, q: number): number | null {
  if (length === 0) return null;
  const pos = (length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return round(at(lo) + (at(hi) - at(lo)) * (pos - lo), 1);
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
 * Latencies of a trial's requests, for their sum, mean and quantiles: while every one is a whole
 * number of milliseconds below 2^32 (as providers write them), how many times each value occurs
 * (as many entries as distinct values, however many requests); the first that is not turns them
 * into a {@link NumberList}. The figures are the same either way: the values in ascending order,
 * summed in that order (exactly, for whole numbers).
 */
class Latencies {
  private counts: Map<number, number> | undefined = new Map();
  private list: NumberList | undefined;
  length = 0;

  push(x: number): void {
    this.length++;
    if (this.counts) {
      if (Number.isInteger(x) && x >= 0 && x < 2 ** 32) {
        this.counts.set(x, (this.counts.get(x) ?? 0) + 1);
        return;
      }
      this.list = new NumberList(this.length);
      for (const [value, count] of this.counts) for (let i = 0; i < count; i++) this.list.push(value);
      this.counts = undefined;
    }
    (this.list as NumberList).push(x);
  }

  /** The values in ascending order, as their sum and a reader of the i-th. */
  sorted(): { sum: number; at: (i: number) => number } {
    if (!this.counts) {
      const list = this.list as NumberList;
      const values = list.items.subarray(0, list.length).sort();
      let sum = 0;
      for (const x of values) sum += x;
      return { sum, at: (i) => values[i] as number };
    }
    const values = Float64Array.from(this.counts.keys()).sort();
    const ends = new Float64Array(values.length);
    let sum = 0;
    let end = 0;
    for (const [k, value] of values.entries()) {
      const count = this.counts.get(value) as number;
      sum += value * count;
      ends[k] = end += count;
    }
    return {
      sum,
      at: (i) => {
        // The first distinct value whose run of copies reaches past i.
        let lo = 0;
        let hi = values.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((ends[mid] as number) > i) hi = mid;
          else lo = mid + 1;
        }
        return values[lo] as number;
      },
    };
  }
}

/**
 * Small whole numbers per item (counts of samples): 1 byte each while every one is below 255,
 * then 2 while below 65,535, then 4 (made zeroed, at once, for every item).
 */
class Counts {
  values: Uint8Array | Uint16Array | Uint32Array;
  constructor(size: number) {
    this.values = new Uint8Array(size);
  }
  increment(i: number): void {
    const value = this.values[i] as number;
    if (value === 0xff && this.values instanceof Uint8Array) this.values = Uint16Array.from(this.values);
    else if (value === 0xffff && this.values instanceof Uint16Array)
      this.values = Uint32Array.from(this.values);
    this.values[i] = value + 1;
  }
}

/**
 * Sums per item, in the order the values came: 1 byte each while every sum is a whole number
 * below 256 (0/1 scores over a few samples), then a double each. The sums are the same either way
 * (whole numbers that small add exactly as doubles).
 */
class Sums {
  private small: Uint8Array | undefined;
  private wide: Float64Array | undefined;
  constructor(size: number) {
    this.small = new Uint8Array(size);
  }
  add(i: number, x: number): void {
    if (this.small) {
      const sum = (this.small[i] as number) + x;
      if (Number.isInteger(x) && x >= 0 && sum < 256) {
        this.small[i] = sum;
        return;
      }
      this.wide = Float64Array.from(this.small);
      this.small = undefined;
    }
    (this.wide as Float64Array)[i]! += x;
  }
  get(i: number): number {
    return (this.small ? this.small[i] : (this.wide as Float64Array)[i]) as number;
  }
}

/**
 * Item positions in the order they were first added (each at most once): nothing is stored while
 * they come in order (0, 1, 2, …, the usual case); the first that does not makes the list, in a
 * typed array of `size`.
 */
class Order {
  private list: Int32Array | undefined;
  length = 0;
  constructor(private readonly size: number) {}
  push(position: number): void {
    if (!this.list) {
      if (position === this.length) {
        this.length++;
        return;
      }
      this.list = new Int32Array(this.size);
      for (let i = 0; i < this.length; i++) this.list[i] = i;
    }
    this.list[this.length++] = position;
  }
  get(i: number): number {
    return this.list ? (this.list[i] as number) : i;
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
  private readonly latencies = new Latencies();
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
  /** Primary scorer per item position: sum of values, scored samples, passed samples. */
  private readonly itemSum: Sums;
  private readonly itemN: Counts;
  private readonly itemPassed: Counts;
  /** Items with a dropped primary score (1), made at the first. */
  private itemDropped: Uint8Array | undefined;
  /** Item positions in the order of their first primary score (the order of the CI's resampling). */
  private readonly itemOrder: Order;
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
    this.itemSum = new Sums(count);
    this.itemN = new Counts(count);
    this.itemPassed = new Counts(count);
    this.itemOrder = new Order(count);
  }

  /** A builder for a trial of a run (its identity from the trial's spec). */
  static forTrial(
    trial: {
      name: string;
      spec: { model: { id: string }; prompt_set: { name: string }; task: { name: string } };
    },
    items: SummaryItems,
    samplesPerItem: number,
    scorerNames: string[],
    stats?: StatsSettings,
  ): SummaryBuilder {
    const { spec } = trial;
    const identity = {
      name: trial.name,
      model: spec.model.id,
      prompt_set: spec.prompt_set.name,
      task: spec.task.name,
    };
    return new SummaryBuilder(identity, items, samplesPerItem, scorerNames, stats);
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

  /** A score row; `position`, when the caller knows it, spares the look-up of its item by id. */
  addScore(s: ScoreRow, position = s.scorer === this.primary ? this.items.position(s.id) : undefined): void {
    const acc = this.scorers.get(s.scorer);
    if (acc && s.parsed !== undefined) {
      acc.withParse++;
      if (s.parsed) acc.parsed++;
    }
    const primary = s.scorer === this.primary;
    if (s.dropped) {
      if (acc) acc.dropped++;
      if (primary && position !== undefined) {
        this.itemDropped ??= new Uint8Array(this.items.count);
        this.itemDropped[position] = 1;
      }
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
    if (this.itemN.values[position] === 0) this.itemOrder.push(position);
    this.itemSum.add(position, s.value);
    this.itemN.increment(position);
    if (s.passed) this.itemPassed.increment(position);
  }

  /**
   * The primary scorer's mean per scored item, in the order items were first scored (`idOf` gives
   * an item's id from its position).
   */
  *itemMeans(idOf?: (position: number) => string): Generator<[string, number]> {
    for (let i = 0; i < this.itemOrder.length; i++) {
      const position = this.itemOrder.get(i);
      yield [idOf ? idOf(position) : "", this.itemSum.get(position) / this.itemN.values[position]!];
    }
    for (const [id, { sum, n }] of this.strays) yield [id, sum / n];
  }

  /** `itemMeans`' means alone, in its order, without a pair made an item (`finish` reads them twice). */
  private eachMean(fn: (mean: number) => void): void {
    for (let i = 0; i < this.itemOrder.length; i++) {
      const position = this.itemOrder.get(i);
      fn(this.itemSum.get(position) / this.itemN.values[position]!);
    }
    for (const { sum, n } of this.strays.values()) fn(sum / n);
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
    this.eachMean((mean) => {
      itemTotal += mean;
      itemsScored++;
      first ??= mean;
      if (mean !== first || !Number.isFinite(mean)) constant = false; // bootstrapCI refuses non-finite
    });
    let meanCi: TrialSummary["mean_ci"] = null;
    if (itemsScored > 0) {
      let ci = { low: itemTotal / itemsScored, high: itemTotal / itemsScored };
      if (!constant) {
        const means = new Float64Array(itemsScored);
        let m = 0;
        this.eachMean((mean) => {
          means[m++] = mean;
        });
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
    const n = this.itemN.values;
    const dropped = this.itemDropped;
    const leftOutAt = (i: number): boolean => dropped?.[i] === 1 && n[i] === 0;
    let leftOut = 0;
    if (dropped) for (let i = 0; i < itemCount; i++) if (leftOutAt(i)) leftOut++;
    let passAtK: TrialSummary["pass_at_k"] = [];
    if (this.primary && itemCount > 0) {
      // Every item's count as it is (no copy), unless some items are left out.
      let counts: ArrayLike<number> = this.itemPassed.values;
      if (leftOut > 0) {
        const kept = new Uint32Array(itemCount - leftOut);
        let k = 0;
        for (let i = 0; i < itemCount; i++) if (!leftOutAt(i)) kept[k++] = this.itemPassed.values[i]!;
        counts = kept;
      }
      passAtK = passAtKTableUniform(this.samplesPerItem, counts, this.stats.pass_at_k).map((r) => ({
        ...r,
        pass_at_k: round(r.pass_at_k),
      }));
    }
    const latencyCount = this.latencies.length;
    const latencies = this.latencies.sorted();
    const latencySum = latencies.sum;
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
        latency_ms_mean: meanOfSum(latencySum, latencyCount),
        latency_ms_p50: quantile(latencyCount, latencies.at, 0.5),
        latency_ms_p95: quantile(latencyCount, latencies.at, 0.95),
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
