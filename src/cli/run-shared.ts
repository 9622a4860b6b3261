import { type Command, InvalidArgumentError, Option } from "commander";
import type { LoadedExperiment } from "../config/index.js";
import { BenchlineError } from "../core/errors.js";
import type { PhaseSelection } from "../pipeline/events.js";
import { loadIds } from "../pipeline/ids.js";
import type { Overrides, ResolvedExperiment } from "../pipeline/index.js";
import { sandboxKindNames } from "../sandbox/kinds.js";
import { checkReporter, downloadReporter } from "./downloads.js";
import { interruptSignal, logOption, positiveInt } from "./options.js";
import { createReporter, describeErrors, type LogFormat } from "./progress.js";

/** Flags every command that runs phases shares. */
export interface SharedRunFlags {
  limit?: number;
  ids?: string;
  samples?: number;
  out?: string;
  concurrency?: number;
  timeout?: number;
  cache: boolean;
  maxCost?: number;
  sandbox?: string;
  retryErrors: boolean;
  retryFailed?: boolean;
  wait?: boolean;
  /** `--batch`; `--no-wait` sets `wait` false (batch models: submit and exit). */
  batch?: boolean;
  offline?: boolean;
  log: LogFormat;
  /** Print each guided answer as it is written (`run --verbose`). */
  verbose?: boolean;
  /** `run --queue`: Redis URL of a distributed run (this process coordinates). */
  queue?: string;
  /** `--dataset`: replaces the experiment file's `dataset:`. */
  dataset?: string;
}

const positiveNumber = (value: string): number => {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError("expected a positive number");
  return n;
};

/** `--dataset`, shared by the commands that read an experiment file's dataset. */
export const DATASET_OPTION_HELP =
  "use this dataset instead of the file's `dataset:`: a path (relative to the working directory), hf:owner/name[@rev], or a bare owner/name[@rev] that is not an existing path (a hub id)";

/**
 * The experiment file, with `--dataset` (when given) in place of its `dataset:`. A hub id is
 * checked here, so a malformed one is an error naming the flag rather than the file.
 */
export async function loadExperimentWith(
  config: string,
  dataset: string | undefined,
): Promise<LoadedExperiment> {
  const { loadExperiment } = await import("../config/index.js");
  const loaded = loadExperiment(config, dataset !== undefined ? { dataset } : {});
  const named = loaded.file.dataset;
  if (dataset !== undefined && typeof named === "string" && named.startsWith("hf:"))
    (await import("../sources/index.js")).parseHubDatasetRef(named, "--dataset");
  return loaded;
}

export function addSharedRunOptions(command: Command): Command {
  return command
    .option("--dataset <path|hub-id>", DATASET_OPTION_HELP)
    .option("-l, --limit <n>", "only the first N dataset items", positiveInt)
    .option(
      "--ids <file>",
      'only these dataset ids: a JSON list, {"sampled_instance_ids": [...]}, or one id a line',
    )
    .option("-n, --samples <n>", "completions per item (sample 0..n-1)", positiveInt)
    .option("-o, --out <dir>", "output root (default: the file's `out`, else ./runs)")
    .option("-c, --concurrency <n>", "requests in flight per trial", positiveInt)
    .option("--timeout <seconds>", "per-request timeout for every model (overrides the file)", positiveNumber)
    .option("--max-cost <usd>", "stop cleanly once predictions have cost this much (USD)", positiveNumber)
    .option("--no-cache", "do not read or write the response cache (<out>/.cache)")
    .addOption(
      new Option("--sandbox <kind>", "sandbox for executions (overrides execution.sandbox)").choices(
        sandboxKindNames,
      ),
    )
    .option(
      "--retry-errors",
      "retry rows whose last status is error (the default) and also re-execute executions that did not pass; never re-runs inference that succeeded",
    )
    .option("--no-retry-errors", "keep rows whose last status is error instead of retrying them")
    .option("--retry-failed", "re-execute executions that ran but did not pass (never re-runs inference)")
    .option(
      "--batch",
      "send every model's requests through its provider's Batch API (OpenAI-compatible models)",
    )
    .option("--wait", "if another process is writing these trials, wait for it instead of exiting (code 4)")
    .option(
      "--no-wait",
      "batch models: submit the batches and exit; a later run of the same command collects them",
    )
    .option("--offline", "hub datasets and models (hf:…) from the cache only, as HF_HUB_OFFLINE=1")
    .addOption(logOption());
}

export function sharedOverrides(flags: SharedRunFlags): Overrides {
  return {
    ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
    ...(flags.ids !== undefined ? { ids: loadIds(flags.ids), idsLabel: flags.ids } : {}),
    ...(flags.samples !== undefined ? { samples: flags.samples } : {}),
    ...(flags.out !== undefined ? { out: flags.out } : {}),
    ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
    ...(flags.timeout !== undefined ? { timeout: flags.timeout } : {}),
    ...(flags.sandbox !== undefined ? { sandbox: flags.sandbox } : {}),
    ...(flags.batch ? { batch: true } : {}),
    ...(flags.offline ? { offline: true } : {}),
    onDownload: downloadReporter(flags.log),
    onCheck: checkReporter(flags.log),
  };
}

/** Exit code of a run in which every row of some trial failed (README "Exit codes"). */
export const EXIT_ALL_FAILED = 3;

/**
 * What the first Ctrl-C does (runExperiment with an aborted signal): requests and sandboxed
 * executions in flight are aborted and not written, no further phase starts, and the reports are
 * written from the rows already on disk. Rows are written as they finish, so even the second
 * Ctrl-C (immediate exit) loses nothing completed.
 */
export const INTERRUPT_MESSAGE =
  "\ninterrupting: cancelling requests and executions in flight (not saved; a rerun redoes them), then writing reports of the completed rows — Ctrl-C again quits at once, completed rows are already on disk\n";

/** Providers that answer without a request: the run-time request settings mean nothing to them. */
const NO_REQUESTS = new Set(["gold", "import"]);

/**
 * A flag is honoured or refused, never accepted and ignored: flags that only act on something
 * this run does not have (requests, an import file, executions, a Batch API through a queue) are
 * usage errors before anything is written.
 */
function refuseIgnoredFlags(
  exp: ResolvedExperiment,
  overrides: Overrides,
  flags: SharedRunFlags,
  phase: PhaseSelection,
): void {
  const models = exp.trials.map((t) => t.spec.model);
  const providers = [...new Set(models.map((m) => m.provider))].join(", ");
  // (--timeout is checked per model where models are resolved.)
  if (!models.some((m) => !NO_REQUESTS.has(m.provider))) {
    const ignored = [
      flags.concurrency !== undefined ? "--concurrency" : undefined,
      flags.maxCost !== undefined ? "--max-cost" : undefined,
      flags.cache ? undefined : "--no-cache",
    ].filter((f) => f !== undefined);
    if (ignored.length > 0)
      throw new BenchlineError(
        "usage",
        `${ignored.join(", ")}: no model of this run sends requests (${providers}), so ${ignored.length > 1 ? "these flags have" : "this flag has"} nothing to act on`,
      );
  }
  if (overrides.allowMissing && !models.some((m) => m.provider === "import"))
    throw new BenchlineError(
      "usage",
      `--allow-missing: no import model in this run (${providers}); it applies to import:<file> models`,
    );
  if (!exp.task.execute) {
    if (flags.retryFailed)
      throw new BenchlineError(
        "usage",
        `--retry-failed: task "${exp.task.name}" executes nothing, so there are no failed executions to retry`,
      );
    if (phase === "execution")
      throw new BenchlineError("usage", `--phase execution: task "${exp.task.name}" executes nothing`);
  }
  if (flags.queue) {
    const batch = models.filter((m) => m.options.batch);
    if (batch.length > 0)
      throw new BenchlineError(
        "usage",
        `--queue: ${batch.map((m) => `"${m.id}"`).join(", ")} use${batch.length === 1 ? "s" : ""} a Batch API, which this machine submits and polls itself; run batch models without --queue`,
      );
  }
}

/** Resolves the experiment (every check before anything is written), runs it, prints the outcome. */
export async function resolveAndRun(
  loaded: LoadedExperiment | string,
  overrides: Overrides,
  flags: SharedRunFlags,
  phase: PhaseSelection = "all",
  adjust?: (exp: ResolvedExperiment) => void,
): Promise<void> {
  // The run path only: not merge, export, formats or the other commands' code.
  const [{ loadExperiment }, { resolveExperiment, relativeLabel }, { runExperiment }, { trialLockFor }] =
    await Promise.all([
      import("../config/index.js"),
      import("../pipeline/resolve.js"),
      import("../pipeline/run.js"),
      import("./lock.js"),
    ]);
  const exp = await resolveExperiment(
    typeof loaded === "string" ? loadExperiment(loaded) : loaded,
    overrides,
  );
  adjust?.(exp);
  refuseIgnoredFlags(exp, overrides, flags, phase);
  if (flags.wait === false && !exp.trials.some((t) => t.spec.model.options.batch))
    throw new BenchlineError(
      "usage",
      "--no-wait: no model of this run uses batch (set batch: true or --batch)",
    );
  for (const warning of exp.warnings) process.stderr.write(`warning: ${warning}\n`);
  // A queued run (loaded only then): this process coordinates, workers call the models.
  const coordinator = flags.queue
    ? await (await import("../queue/index.js")).QueueCoordinator.open(flags.queue, {
        task: exp.task,
        executes: phase === "all" || phase === "execution",
        log: (line, data) =>
          void process.stderr.write(`${flags.log === "json" ? JSON.stringify(data) : line}\n`),
      })
    : undefined;
  const interrupt = interruptSignal(() => process.stderr.write(INTERRUPT_MESSAGE));
  const trialLock = trialLockFor(exp, { wait: flags.wait ?? false, signal: interrupt.signal });
  try {
    const result = await runExperiment(exp, {
      beforeWrite: trialLock.acquire,
      phase,
      retryErrors: flags.retryErrors,
      // An explicit --retry-errors also re-executes failed executions (the shell-task workflow).
      retryFailedExecutions: (flags.retryFailed ?? false) || process.argv.includes("--retry-errors"),
      signal: AbortSignal.any([interrupt.signal, trialLock.lost]),
      onEvent: createReporter(flags.log, process.stderr, undefined, { verbose: flags.verbose ?? false }),
      ...(flags.cache ? {} : { cacheDir: false as const }),
      ...(flags.maxCost !== undefined ? { maxCostUsd: flags.maxCost } : {}),
      ...(flags.wait === false ? { batchWait: false } : {}),
      ...(coordinator
        ? {
            createProvider: (trial, cacheDir, defaultConcurrency) =>
              coordinator.providerFor(trial, exp.baseDir, cacheDir, defaultConcurrency),
            ...(exp.task.execute ? { sandbox: coordinator.sandboxFor(exp.execution.sandbox) } : {}),
          }
        : {}),
    });
    if (result.interrupted) {
      process.stderr.write(
        `interrupted: completed rows are saved in ${relativeLabel(result.dir)}; run the same command to resume\n`,
      );
      process.exitCode = 130;
      return;
    }
    if (result.stopReason === "max_cost") {
      process.stderr.write(
        `stopped at --max-cost; completed rows are saved in ${relativeLabel(result.dir)}\n`,
      );
    }
    for (const f of result.failed) {
      process.stderr.write(`error: every row of trial ${f.trial} failed: ${describeErrors(f)}\n`);
      process.exitCode = EXIT_ALL_FAILED;
    }
    process.stdout.write(`report: ${relativeLabel(result.report)}\n`);
  } finally {
    trialLock.release();
    interrupt.dispose();
    await coordinator?.close();
  }
}
