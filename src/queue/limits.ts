import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { GenerateRequest, Generation, ModelSpec } from "../core/index.js";
import {
  estimateTokens,
  isProviderName,
  providers,
  type SchedulerOptions,
  schedulerOptionsFrom,
  sleep,
} from "../providers/index.js";

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
 *   `Queue.rateLimit`), and holds back jobs already taken (`beforeSend`);
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
 * 429 (see the top of this file). One per model queue in each worker.
 */
export class SharedLimits {
  private readonly bucket: string;
  private readonly pause: string;
  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly maxRetryAfterMs = 120_000,
  ) {
    this.bucket = `benchline:tpm:${queue.name}`;
    this.pause = `benchline:pause:${queue.name}`;
  }

  /**
   * Waits until this request may be sent: no pause after a 429 holds the model, and (with `tpm`)
   * its estimated tokens are reserved in the shared bucket — callers are served in the order they
   * reach Redis, each waiting out the tokens reserved before it. Returns the tokens reserved.
   */
  async beforeSend(request: GenerateRequest, tpm: number | undefined, signal: AbortSignal): Promise<number> {
    const tokens = tpm === undefined ? 0 : estimateTokens(request);
    let reserved = false;
    for (;;) {
      const [wait, took] = (await this.redis.eval(
        TAKE,
        2,
        this.bucket,
        this.pause,
        tpm ?? 0,
        reserved ? 0 : tokens,
      )) as [number, number];
      if (took === 1) reserved = true;
      if (wait <= 0) return tokens;
      await sleep(wait, signal);
    }
  }

  /** After the answer: the bucket is charged what the server reported instead of the estimate. */
  async settle(generation: Generation, reserved: number, tpm: number | undefined): Promise<void> {
    const usage = generation.usage;
    if (tpm === undefined || !usage) return;
    const used = (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
    if (used === reserved) return;
    await this.redis.eval(ADJUST, 1, this.bucket, tpm, used - reserved);
  }

  /**
   * A 429 with `Retry-After`: no worker starts another of this model's jobs (BullMQ's queue rate
   * limit, never shortened below the `rpm` window in progress) or sends one it holds until then.
   */
  async throttled(retryAfterMs: number): Promise<void> {
    const ms = Math.max(1, Math.round(Math.min(retryAfterMs, this.maxRetryAfterMs)));
    await this.redis.eval(PAUSE, 1, this.pause, ms);
    // `getRateLimitTtl(1)`: what is left of the limiter's window once a job has counted in it.
    const window = await this.queue.getRateLimitTtl(1);
    await this.queue.rateLimit(Math.max(ms, window));
  }
}

// ---------------------------------------------------------------- internal helpers

/** The model is a program or model file each worker runs itself (not a server they share). */
function runsOnWorker(spec: ModelSpec): boolean {
  return isProviderName(spec.provider) && providers[spec.provider].file;
}

/** setTimeout's longest delay (about 24.8 days): the scheduler's per-attempt timer, in effect none. */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * KEYS: bucket, pause. ARGV: tpm (0: none), tokens to reserve. Returns {wait ms, reserved 0/1}.
 * A pause reserves nothing. Otherwise the tokens are taken at once (the level may go negative)
 * and the caller waits until the level before it had refilled to what it asked for (at most a
 * full bucket, a second's worth, as on one machine). Redis's clock serves every worker.
 */
const TAKE = `
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {pause, 0} end
local tpm = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
if tpm <= 0 or cost <= 0 then return {0, 0} end
local rate = tpm / 60000
local cap = math.max(1, tpm / 60)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or cap)
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or now)
level = math.min(cap, level + math.max(0, now - at) * rate)
local need = math.min(cost, cap)
local wait = 0
if level < need then wait = math.ceil((need - level) / rate) end
level = level - cost
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - level) / rate) + 60000)
return {wait, 1}
`;

/** KEYS: bucket. ARGV: tpm, tokens used beyond the reservation (negative: a refund). */
const ADJUST = `
local rate = tonumber(ARGV[1]) / 60000
local cap = math.max(1, tonumber(ARGV[1]) / 60)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or cap)
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or now)
level = math.min(cap, level + math.max(0, now - at) * rate - tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - level) / rate) + 60000)
return 0
`;

/** KEYS: pause. ARGV: ms. Lengthens the pause to `ms` from now; never shortens it. */
const PAUSE = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
`;
