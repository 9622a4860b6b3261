import type { SandboxRunOptions, SandboxStep, StepResult } from "../core/index.js";
import { signalNote } from "./output.js";

/** What an implementation reports for one step; name and command are added by `runSteps`. */
export type StepOutcome = Omit<StepResult, "name" | "command"> & { aborted?: boolean };

export type StepExecutor = (step: SandboxStep, timeoutMs: number) => Promise<StepOutcome>;

/** Runs a prefix of `steps` (at least one) and reports the outcomes of those that ran. */
export type BatchExecutor = (steps: SandboxStep[]) => Promise<StepOutcome[]>;

/**
 * Thrown by `Sandbox.run` when its signal aborted the run before every step had finished. An
 * interrupted run is no result: callers must not record it as one (the execution phase writes
 * no row, so a rerun executes it again).
 */
export class SandboxAbortedError extends Error {
  override readonly name = "AbortError";
  readonly code = "aborted";

  constructor(message = "sandbox run aborted; its process tree was killed") {
    super(message);
  }
}

/**
 * The step loop every sandbox shares: steps run in order; a timed-out step counts as failed
 * (`exit_code: null`); `stopOnFailure` stops at the first non-zero exit; an abort stops the run
 * and throws SandboxAbortedError (the steps that ran are not returned as if they were a result).
 * A death by signal (exit code 128 + N) gets a note on stderr naming the signal and likely limit.
 */
export function runSteps(steps: SandboxStep[], options: SandboxRunOptions, execute: StepExecutor) {
  return runStepBatches(steps, options, 1, async ([step]) =>
    step ? [await execute(step, step.timeoutMs ?? options.timeoutMs)] : [],
  );
}

/** The same loop for executors that run several steps per call (bwrap: one launch per batch). */
export async function runStepBatches(
  steps: SandboxStep[],
  options: SandboxRunOptions,
  batchSize: number,
  execute: BatchExecutor,
): Promise<StepResult[]> {
  const results: StepResult[] = [];
  while (results.length < steps.length) {
    if (options.signal?.aborted) throw new SandboxAbortedError();
    const batch = steps.slice(results.length, results.length + batchSize);
    const outcomes = await execute(batch);
    for (const [i, { aborted, ...outcome }] of outcomes.entries()) {
      const step = batch[i];
      if (!step) break;
      outcome.stderr += signalNote(outcome.exit_code);
      results.push({ name: step.name, command: step.command, ...outcome });
      if (aborted) throw new SandboxAbortedError();
      if (options.stopOnFailure && outcome.exit_code !== 0) return results;
    }
    if (outcomes.length === 0) break;
  }
  return results;
}
