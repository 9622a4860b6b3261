import type { Trial } from "../config/index.js";
import type { Provider, Sandbox } from "../core/index.js";
import type { EventSink } from "./events.js";
import type { TrialFiles } from "./files.js";
import type { ResolvedExperiment } from "./resolve.js";

export interface RunOptions {
  /** Retry rows whose last status is `error` (default true). */
  retryErrors?: boolean;
  signal?: AbortSignal;
  onEvent?: EventSink;
  /**
   * Provider override per trial (tests, import, a queued run); default: the registry. It gets the
   * run's response cache directory (undefined with the cache off) to honour it as the registry does,
   * and the requests in flight the registry would allow the model when it sets no `concurrency`.
   */
  createProvider?: (trial: Trial, cacheDir: string | undefined, defaultConcurrency: number) => Provider;
  /** Sandbox for tasks that execute (default: the experiment's `execution:` block). */
  sandbox?: Sandbox;
  /** Response cache directory (default `<out>/.cache`); `false` turns the cache off. */
  cacheDir?: string | false;
  /** Stop the run cleanly once predictions have cost this much (USD). */
  maxCostUsd?: number;
  /** Models with `batch`: wait for their batches (default true); false submits and returns (`--no-wait`). */
  batchWait?: boolean;
  /** Re-execute executions that ran but did not pass (never re-runs inference). */
  retryFailedExecutions?: boolean;
  /**
   * Called once everything is checked and before anything is written: the CLI takes the trial
   * locks here (lock.ts), so a run that cannot start leaves no files and no lock behind.
   */
  beforeWrite?: () => Promise<void>;
}

/** Spending across all trials of a run, for `--max-cost`. */
export interface Budget {
  spent: number;
  max?: number;
  /** Called once when `spent` reaches `max`. */
  exhausted: () => void;
}

/** What every phase of one trial gets. */
export interface TrialContext {
  exp: ResolvedExperiment;
  trial: Trial;
  files: TrialFiles;
  emit: EventSink;
  signal: AbortSignal;
  /**
   * Stops scheduling model calls (the run's signal, or `--max-cost` reached). Requests already
   * sent are not aborted by it: their answers were paid for and are written and counted.
   */
  stopNew: AbortSignal;
  retryErrors: boolean;
  retryFailedExecutions: boolean;
  budget: Budget;
}
