import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { GenerateRequest, Generation, ModelSpec } from "../core/index.js";
import {
  isProviderName,
  providers,
  type SchedulerOptions,
  schedulerOptionsFrom,
} from "../providers/index.js";
import { SharedBuckets } from "./buckets.js";

/**
 * A model's limits in a queued run, split so that each holds for all workers together, as if one
 * machine sent every request:
 *
 * - the coordinator runs the model's scheduler around the jobs it enqueues (`coordinatorScheduling`):
 *   its `concurrency` (adaptive: halved on a 429 any worker reports), `max_attempts` and the
 *   backoff between attempts, honouring `Retry-After` — every retry is a new job;
 * - `rpm` is the BullMQ limiter of the model's queue (`rpmLimiter` in connection.ts);
 * - `tpm` is a token bucket in Redis that a worker draws on right before it sends
 *   (`SharedLimits.beforeSend`) and corrects with the usage the server reports;
 * - a 429 with `Retry-After` pauses the model's queue for every worker (BullMQ's
 *   `Queue.rateLimit`), and holds back jobs already taken (`beforeSend`), moving those already
 *   waiting their turn on by the pause, in order (buckets.ts);
 * - each worker's own scheduler makes one attempt per job, with the model's timeout, within the
 *   worker's `--concurrency` (`workerScheduling`): no retries, rate limits or adaptive
 *   concurrency of its own, which would apply them again per worker.
 *
 * A model that runs on the worker itself (`command`, `llamacpp`: its file is the model) keeps its
 * `concurrency` per worker: it bounds each machine's own copy of the program or model.
 */

/** The coordinator's scheduler for a model's jobs; undefined for a provider that is not scheduled. */
export function coordinatorScheduling(
  spec: ModelSpec,
  defaultConcurrency: number,
): SchedulerOptions | undefined {
  if (!isProviderName(spec.provider)) return undefined;
  if (providers[spec.provider].scheduled === false) return undefined;
  const { concurrency, maxAttempts, adaptive } = schedulerOptionsFrom(spec.options, `model "${spec.id}"`);
  return {
    concurrency: (runsOnWorker(spec) ? undefined : concurrency) ?? defaultConcurrency,
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...(adaptive !== undefined ? { adaptive } : {}),
    // A job may wait in the queue for a worker as long as it takes; the worker times the attempt.
    timeoutMs: NO_TIMEOUT_MS,
  };
}

/** A worker's scheduler for a model: one attempt, the model's timeout, the worker's concurrency. */
export function workerScheduling(
  spec: ModelSpec,
  workerConcurrency: number,
): (options: SchedulerOptions) => SchedulerOptions {
  const local = runsOnWorker(spec);
  return ({ rpm: _rpm, tpm: _tpm, maxAttempts: _attempts, adaptive: _adaptive, concurrency, ...rest }) => ({
    ...rest,
    ...(local && concurrency !== undefined ? { concurrency } : { concurrency: workerConcurrency }),
    maxAttempts: 1,
    adaptive: false,
  });
}

/** The model's `tpm`, if it sets one. */
export function tpmOf(spec: ModelSpec): number | undefined {
  return schedulerOptionsFrom(spec.options, `model "${spec.id}"`).tpm;
}

/**
 * A worker's limiter for a model's queue without `rpm`: it never binds, but BullMQ only looks at a
 * queue's rate-limit key (`Queue.rateLimit`, after a 429) when its worker has a limiter.
 */
export const UNBOUNDED_LIMITER = { max: 1_000_000_000, duration: 1000 };

/**
 * What the workers of one model share through Redis: its tpm token bucket and the pause after a
 * 429 (see the top of this file), kept as buckets.ts keeps them. One per model queue in each worker.
 */
export class SharedLimits {
  private readonly key: string;
  private readonly pauseKey: string;
  private buckets: SharedBuckets | undefined;
  private tpm: number | undefined;
  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly maxRetryAfterMs = 120_000,
  ) {
    this.key = `benchline:limits:${queue.name}`;
    this.pauseKey = `benchline:pause:${queue.name}`;
  }

  /** The model's buckets (its `tpm` is the same in every job of its queue). */
  private of(tpm: number | undefined): SharedBuckets {
    if (!this.buckets || this.tpm !== tpm) {
      this.buckets = new SharedBuckets(this.redis, this.key, this.pauseKey, { tpm });
      this.tpm = tpm;
    }
    return this.buckets;
  }

  /**
   * Waits until this request may be sent: no pause after a 429 holds the model, and (with `tpm`)
   * its turn in the shared bucket has come — callers are served in the order they reach Redis.
   * Returns the tokens it was charged.
   */
  beforeSend(request: GenerateRequest, tpm: number | undefined, signal: AbortSignal): Promise<number> {
    return this.of(tpm).take(request, signal);
  }

  /** After the answer: the bucket is charged what the server reported instead of the estimate. */
  settle(generation: Generation, reserved: number, tpm: number | undefined): Promise<void> {
    return this.of(tpm).charge(generation, reserved);
  }

  /**
   * A 429 with `Retry-After`: no worker starts another of this model's jobs (BullMQ's queue rate
   * limit, never shortened below the `rpm` window in progress) or sends one it holds until then;
   * those already waiting their turn are moved on by the pause, in order.
   */
  async throttled(retryAfterMs: number, tpm: number | undefined): Promise<void> {
    const ms = Math.max(1, Math.round(Math.min(retryAfterMs, this.maxRetryAfterMs)));
    await this.of(tpm).pause(ms);
    // `getRateLimitTtl(1)`: what is left of the limiter's window once a job has counted in it.
    const window = await this.queue.getRateLimitTtl(1);
    await this.queue.rateLimit(Math.max(ms, window));
  }
}

// ---------------------------------------------------------------- internal helpers

/** The model is a program or model file each worker runs itself (not a server they share). */
export function runsOnWorker(spec: ModelSpec): boolean {
  return isProviderName(spec.provider) && providers[spec.provider].file;
}

/** setTimeout's longest delay (about 24.8 days): the scheduler's per-attempt timer, in effect none. */
const NO_TIMEOUT_MS = 2 ** 31 - 1;
