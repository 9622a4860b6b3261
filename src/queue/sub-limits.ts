import type { Redis } from "ioredis";
import { contentHash, type ModelSpec } from "../core/index.js";
import {
  abortReason,
  ProviderError,
  type SchedulerOptions,
  type SharedRate,
  schedulerOptionsFrom,
} from "../providers/index.js";
import { SharedBuckets } from "./buckets.js";
import { runsOnWorker } from "./limits.js";

/**
 * A guided model's base and oracle in a queued run. A worker runs a guided job whole and calls
 * them itself, so their limits cannot be the coordinator's (as a model's are, limits.ts): their
 * `rpm` and `tpm` are kept in Redis for all workers together, as the scheduler keeps them on one
 * machine — token buckets holding one second's burst, callers served in turn, a request going
 * when both buckets allow it and charged to both then — and a 429 with `Retry-After` from the
 * model holds back every worker's requests to it until it is over. Their `concurrency` and
 * retries stay each worker's own (each retry waits its turn again).
 *
 * Keyed by the model entry (its whole spec, hashed): guided models that name the same base with
 * the same settings share its limits, as in one process. See buckets.ts for how.
 */
export function subScheduling(
  spec: ModelSpec,
  redis: Redis,
): (options: SchedulerOptions) => SchedulerOptions {
  return (options) => {
    const { rpm, tpm, ...rest } = options;
    // A model the worker runs itself (command, llamacpp) answers no 429: nothing to share unless
    // it sets a rate (a command that calls a remote API).
    if (runsOnWorker(spec) && rpm === undefined && tpm === undefined) return options;
    return { ...rest, shared: sharedSubRate(spec, redis) };
  };
}

/** The shared limits of one base or oracle entry (see `subScheduling`). */
export function sharedSubRate(spec: ModelSpec, redis: Redis, maxRetryAfterMs = 120_000): SharedRate {
  const { rpm, tpm } = schedulerOptionsFrom(spec.options, `model "${spec.id}"`);
  const key = `benchline:sub:${contentHash(spec, 32)}`;
  const buckets = new SharedBuckets(redis, key, `${key}:pause`, { rpm, tpm });
  return {
    async take(request, signal) {
      let charged: number;
      try {
        charged = await buckets.take(request, signal);
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        throw new ProviderError(
          "redis",
          `the limits this model shares with other workers, in Redis: ${(error as Error).message}`,
        );
      }
      return async (outcome) => {
        // Best effort, never awaited: a Redis hiccup must not hold or change the outcome.
        if ("generation" in outcome) {
          void buckets.charge(outcome.generation, charged).catch(() => undefined);
          return;
        }
        const { code, retryAfterMs } = (outcome.error ?? {}) as { code?: unknown; retryAfterMs?: unknown };
        if (code === "http_429" && typeof retryAfterMs === "number")
          void buckets.pause(Math.min(retryAfterMs, maxRetryAfterMs)).catch(() => undefined);
      };
    },
  };
}
