/**
 * Wraps a remote provider with what talking to a server needs: a concurrency limit that adapts
 * to 429s (AIMD), requests- and tokens-per-minute limits, a per-attempt timeout, and retries with
 * exponential backoff and full jitter that honour `Retry-After`, each reported to
 * `context.onRetry`. A fatal error (server down, unknown host, TLS or auth failure) is never
 * retried and trips the provider: every later request fails at once with the same error.
 */
import { z } from "zod";
import type { GenerateContext, GenerateRequest, Generation, Provider } from "../core/index.js";
import { BenchlineError, formatIssues, isFatal, PARSE_ONCE } from "../core/index.js";
import { abortReason, errorCode, onAbort, ProviderError, raceAbort } from "./http.js";

export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface SchedulerOptions {
  /** Most requests in flight at once (default 8). */
  concurrency?: number;
  /** Requests per minute. */
  rpm?: number;
  /** Tokens per minute, estimated per request as prompt chars / 4 + max_tokens × n. */
  tpm?: number;
  /** Attempts per request, the first included (default 5). */
  maxAttempts?: number;
  /** Per-attempt timeout in milliseconds (default 600 000). */
  timeoutMs?: number;
  /** Halve the concurrency on a 429, add one back after a run of successes (default true). */
  adaptive?: boolean;
  /** First backoff ceiling; doubles per attempt up to `maxBackoffMs` (defaults 1 000 / 60 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Longest `Retry-After` honoured (default 120 000). */
  maxRetryAfterMs?: number;
  clock?: Clock;
  /** Uniform [0, 1) source for jitter. */
  random?: () => number;
  /** Called whenever the adaptive concurrency limit changes. */
  onLimitChange?: (limit: number) => void;
  /** Limits shared with other processes (a queue worker's, through Redis), besides `rpm`/`tpm`. */
  shared?: SharedRate;
}

/**
 * Limits held together with other processes. Each attempt waits its turn with `take` after the
 * scheduler's own limits and before it is sent (the wait is not part of its timeout); the
 * function `take` resolves with is called with the attempt's outcome before the scheduler goes on.
 */
export interface SharedRate {
  take(
    request: GenerateRequest,
    signal: AbortSignal,
  ): Promise<(outcome: { generation: Generation } | { error: unknown }) => Promise<void>>;
}

export interface SchedulerStats {
  /** The current (adaptive) concurrency limit. */
  limit: number;
  inFlight: number;
  queued: number;
  /** Attempts sent to the provider. */
  attempts: number;
  retries: number;
  throttled: number;
}

export interface ScheduledProvider extends Provider {
  stats(): SchedulerStats;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const unsubscribe = signal
        ? onAbort(signal, () => {
            clearTimeout(timer);
            reject(abortReason(signal));
          })
        : () => undefined;
      const timer = setTimeout(() => {
        unsubscribe();
        resolve();
      }, ms);
    }),
};

/** Error codes worth another attempt: throttling, server faults, lost connections, garbage. */
export function isRetryable(code: string | undefined): boolean {
  if (code === undefined) return false;
  if (
    ["http_408", "http_409", "http_425", "http_429", "timeout", "connection", "bad_response"].includes(code)
  )
    return true;
  return /^http_5\d\d$/.test(code);
}

const specOptionsSchema = z.looseObject({
  concurrency: z.number().int().positive().optional(),
  rpm: z.number().positive().optional(),
  tpm: z.number().positive().optional(),
  max_attempts: z.number().int().positive().optional(),
  timeout: z.number().positive().optional(),
  adaptive: z.boolean().optional(),
});

/** Scheduler settings from a model entry's `options`: concurrency, rpm, tpm, max_attempts, timeout (s), adaptive. */
export function schedulerOptionsFrom(options: Record<string, unknown>, label = "options"): SchedulerOptions {
  const parsed = specOptionsSchema.safeParse(options, PARSE_ONCE);
  if (!parsed.success) throw new BenchlineError("config", `${label}: ${formatIssues(parsed.error.issues)}`);
  const o = parsed.data;
  const out: SchedulerOptions = {};
  if (o.concurrency !== undefined) out.concurrency = o.concurrency;
  if (o.rpm !== undefined) out.rpm = o.rpm;
  if (o.tpm !== undefined) out.tpm = o.tpm;
  if (o.max_attempts !== undefined) out.maxAttempts = o.max_attempts;
  if (o.timeout !== undefined) out.timeoutMs = o.timeout * 1000;
  if (o.adaptive !== undefined) out.adaptive = o.adaptive;
  return out;
}

/**
 * @example
 * const provider = withScheduler(createOpenAIProvider(spec, env), { concurrency: 32, rpm: 500 });
 */
export function withScheduler(provider: Provider, options: SchedulerOptions = {}): ScheduledProvider {
  const max = Math.max(1, options.concurrency ?? 8);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const timeoutMs = options.timeoutMs ?? 600_000;
  const adaptive = options.adaptive ?? true;
  const backoffMs = options.backoffMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 60_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const gate = new Gate(max);
  const rate = new RateLimiter(clock, options.rpm, options.tpm);
  const shared = options.shared;
  const counts = { attempts: 0, retries: 0, throttled: 0 };
  let epoch = 0; // bumped on every decrease, so one burst of 429s halves the limit once
  let successes = 0;
  let tripped: ProviderError | undefined; // the first fatal error; later requests fail with it
  const failFast = (): never => {
    const error = new ProviderError(tripped!.code, tripped!.message);
    error.fatal = true;
    error.attempts = 0; // never sent
    throw error;
  };

  const setLimit = (limit: number): void => {
    gate.setLimit(limit);
    options.onLimitChange?.(limit);
  };
  const onSuccess = (): void => {
    if (!adaptive || gate.limit >= max || ++successes < gate.limit) return;
    successes = 0;
    setLimit(gate.limit + 1);
  };
  const onThrottled = (attemptEpoch: number, retryAfterMs: number | undefined): void => {
    counts.throttled++;
    if (retryAfterMs !== undefined) rate.pauseUntil(clock.now() + Math.min(retryAfterMs, maxRetryAfterMs));
    successes = 0;
    if (!adaptive || attemptEpoch !== epoch) return;
    epoch++;
    setLimit(Math.max(1, Math.floor(gate.limit / 2)));
  };
  const backoff = (attempt: number, error: unknown): number => {
    const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof retryAfterMs === "number")
      return Math.min(retryAfterMs, maxRetryAfterMs) + random() * backoffMs;
    return random() * Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1));
  };

  return {
    id: provider.id,
    stats: () => ({ limit: gate.limit, inFlight: gate.inFlight, queued: gate.queued, ...counts }),
    close: async () => provider.close?.(),
    async generate(request: GenerateRequest, context: GenerateContext): Promise<Generation> {
      const { signal } = context;
      const tokens = estimateTokens(request);
      // A provider that times its own requests out is called directly: no timer, abort
      // controller and promise of the scheduler's per attempt (the hot path of every request).
      // Its timers (undici's) are checked about every half second, so short timeouts stay here.
      const direct =
        provider.timesOut === true && timeoutMs >= DIRECT_TIMEOUT_MIN_MS
          ? { ...context, timeoutMs }
          : undefined;
      for (let attempt = 1; ; attempt++) {
        if (tripped) failFast();
        const queued = gate.acquire(signal);
        if (queued) await queued;
        const attemptEpoch = epoch;
        let wait: number;
        try {
          if (tripped) failFast();
          const limited = rate.take(tokens, signal);
          if (limited) await limited;
          if (context.stopNew?.aborted) throw new ProviderError("aborted", "not sent: no new requests");
          const settle = shared ? await shared.take(request, signal) : undefined;
          // The shared turn may have been long: stopped meanwhile, it is not sent after all.
          if (settle && context.stopNew?.aborted)
            throw new ProviderError("aborted", "not sent: no new requests");
          counts.attempts++;
          const sending = direct
            ? provider.generate(request, direct)
            : attemptOnce(provider, request, context, timeoutMs);
          const generation = settle ? await settled(sending, settle) : await sending;
          onSuccess();
          return { ...generation, attempts: attempt };
        } catch (caught) {
          const error = signal.aborted ? abortReason(signal) : caught;
          const code = errorCode(error);
          if (code === "http_429") onThrottled(attemptEpoch, (error as ProviderError).retryAfterMs);
          if (isFatal(error) && error instanceof ProviderError) {
            if (error.attempts === 0) throw error; // a request failed fast by the trip
            tripped ??= error;
          }
          if (code === "aborted" || isFatal(error) || !isRetryable(code) || attempt >= maxAttempts) {
            if (error !== null && typeof error === "object")
              (error as { attempts?: number }).attempts = attempt;
            throw error;
          }
          wait = backoff(attempt, error);
          context.onRetry?.({
            attempt,
            wait_ms: Math.round(wait),
            code: code ?? "error",
            message: error instanceof Error ? error.message : String(error),
          });
        } finally {
          gate.release();
        }
        counts.retries++;
        await clock.sleep(wait, signal);
      }
    },
  };
}

// ---------------------------------------------------------------- internal helpers

/** The attempt's outcome, after `settle` has been told it. */
async function settled(
  attempt: Promise<Generation>,
  settle: (outcome: { generation: Generation } | { error: unknown }) => Promise<void>,
): Promise<Generation> {
  let generation: Generation;
  try {
    generation = await attempt;
  } catch (error) {
    // Settling never changes the outcome.
    await settle({ error }).catch(() => undefined);
    throw error;
  }
  await settle({ generation }).catch(() => undefined);
  return generation;
}

/** The shortest timeout a provider that `timesOut` is trusted to keep (to within 20 %). */
export const DIRECT_TIMEOUT_MIN_MS = 5000;

/** A request's tokens as `tpm` counts them before the answer: prompt chars / 4 + max_tokens × n. */
export function estimateTokens(request: GenerateRequest): number {
  return Math.ceil(request.prompt.length / 4) + (request.max_tokens ?? 0) * request.n;
}

/** One call with its own timeout; settles as soon as the caller aborts, even if the provider does not. */
function attemptOnce(
  provider: Provider,
  request: GenerateRequest,
  context: GenerateContext,
  timeoutMs: number,
): Promise<Generation> {
  return new Promise((resolve, reject) => {
    const controller = new AbortController();
    let settled = false;
    const settle = (error: unknown, generation?: Generation): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      if (generation) resolve(generation);
      else reject(error);
    };
    const stop = (error: Error): void => {
      controller.abort(error);
      settle(error);
    };
    const unsubscribe = onAbort(context.signal, () => stop(abortReason(context.signal)));
    const timer = setTimeout(
      () => stop(new ProviderError("timeout", `no response within ${timeoutMs} ms`)),
      timeoutMs,
    );
    let pending: Promise<Generation>;
    try {
      pending = provider.generate(request, { ...context, signal: controller.signal });
    } catch (error) {
      settle(error); // a provider that throws instead of rejecting
      return;
    }
    pending.then(
      (generation) => settle(undefined, generation),
      (error: unknown) => settle(error),
    );
  });
}

interface Waiter {
  resolve(): void;
  unsubscribe(): void;
}

/** A counting semaphore whose limit can change; FIFO; waiting is abortable. */
class Gate {
  inFlight = 0;
  private readonly waiters: Waiter[] = [];
  constructor(public limit: number) {}

  get queued(): number {
    return this.waiters.length;
  }

  /** Takes a slot: at once (undefined) when one is free, else a promise of one. */
  acquire(signal: AbortSignal): Promise<void> | undefined {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    if (this.inFlight < this.limit && this.waiters.length === 0) {
      this.inFlight++;
      return undefined;
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        unsubscribe: onAbort(signal, () => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(abortReason(signal));
        }),
      };
      this.waiters.push(waiter);
    });
  }

  release(): void {
    this.inFlight--;
    this.pump();
  }

  setLimit(limit: number): void {
    this.limit = limit;
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.limit) {
      const waiter = this.waiters.shift();
      if (!waiter) return;
      waiter.unsubscribe();
      this.inFlight++;
      waiter.resolve();
    }
  }
}

/**
 * Token buckets for requests and tokens per minute, holding one second's worth of burst; a
 * request larger than the bucket waits for a full bucket and leaves it in debt. Callers take
 * their turn in order. `pauseUntil` holds everyone back after a `Retry-After`.
 */
class RateLimiter {
  private readonly buckets: {
    rate: number;
    capacity: number;
    level: number;
    cost: (tokens: number) => number;
  }[];
  private last: number;
  private pausedUntil = 0;
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly clock: Clock,
    rpm: number | undefined,
    tpm: number | undefined,
  ) {
    const bucket = (perMinute: number, cost: (tokens: number) => number) => {
      const capacity = Math.max(1, perMinute / 60);
      return { rate: perMinute / 60_000, capacity, level: capacity, cost };
    };
    this.buckets = [];
    if (rpm !== undefined) this.buckets.push(bucket(rpm, () => 1));
    if (tpm !== undefined) this.buckets.push(bucket(tpm, (tokens) => tokens));
    this.last = clock.now();
  }

  pauseUntil(time: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, time);
  }

  /** Undefined when nothing limits this request; else a promise that resolves on its turn. */
  take(tokens: number, signal: AbortSignal): Promise<void> | undefined {
    if (this.buckets.length === 0 && this.pausedUntil <= this.clock.now()) return undefined;
    return this.wait(tokens, signal);
  }

  private async wait(tokens: number, signal: AbortSignal): Promise<void> {
    const previous = this.turn;
    let done!: () => void;
    const mine = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.turn = previous.then(() => mine);
    try {
      await raceAbort(previous, signal);
      for (let wait = this.waitFor(tokens); wait > 0; wait = this.waitFor(tokens)) {
        await this.clock.sleep(wait, signal);
      }
      for (const b of this.buckets) b.level -= b.cost(tokens);
    } finally {
      done();
    }
  }

  private waitFor(tokens: number): number {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    let wait = this.pausedUntil - now;
    for (const b of this.buckets) {
      b.level = Math.min(b.capacity, b.level + elapsed * b.rate);
      const need = Math.min(b.cost(tokens), b.capacity);
      if (b.level < need) wait = Math.max(wait, (need - b.level) / b.rate);
    }
    return wait;
  }
}
