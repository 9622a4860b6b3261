import type { Redis } from "ioredis";
import { contentHash, type ModelSpec } from "../core/index.js";
import {
  abortReason,
  estimateTokens,
  isProviderName,
  onAbort,
  ProviderError,
  providers,
  type SchedulerOptions,
  type SharedRate,
  schedulerOptionsFrom,
  sleep,
} from "../providers/index.js";

/**
 * A guided model's base and oracle in a queued run. A worker runs a guided job whole and calls
 * them itself, so their limits cannot be the coordinator's (as a model's are, limits.ts): their
 * `rpm` and `tpm` are kept in Redis for all workers together, as the scheduler keeps them on one
 * machine — token buckets holding one second's burst, callers served in turn, a request going
 * when both buckets allow it and charged to both then — and a 429 with `Retry-After` from the
 * model holds back every worker's requests to it until it is over. Their `concurrency` and
 * retries stay each worker's own (each retry waits its turn again).
 *
 * How: each request books its send time in one Lua script (SCHEDULE), on Redis's clock: after the
 * last booked send (the turn), after any pause, and when both buckets have refilled enough; both
 * buckets are charged as of that time. It sleeps until then and asks again (WAKE): a pause set
 * meanwhile moves every booked send on by the pause's length (a shift counted in the hash), so
 * requests booked before a 429 do not all go when it ends. Keyed by the model entry (its whole
 * spec, hashed): guided models that name the same base with the same settings share its limits,
 * as in one process.
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
  const pause = `${key}:pause`;
  const call = (script: string, keys: string[], args: (string | number)[], signal?: AbortSignal) =>
    withSignal(redis.eval(script, keys.length, ...keys, ...args), signal).catch((error: unknown) => {
      if (signal?.aborted) throw abortReason(signal);
      throw new ProviderError(
        "redis",
        `the limits this model shares with other workers, in Redis: ${(error as Error).message}`,
      );
    });
  return {
    async take(request, signal) {
      const tokens = tpm === undefined ? 0 : estimateTokens(request);
      const [wait, at, shift] = (await call(
        SCHEDULE,
        [key, pause],
        [rpm ?? 0, tpm ?? 0, tokens],
        signal,
      )) as [number, number, number];
      try {
        for (let left = wait; left > 0; ) {
          await sleep(Math.min(left, MAX_SLEEP_MS), signal);
          left = (await call(WAKE, [key, pause], [at, shift], signal)) as number;
        }
      } catch (error) {
        // Stopped while waiting its turn: what it booked is given back (best effort).
        void call(REFUND, [key], [rpm ?? 0, tpm ?? 0, tokens]).catch(() => undefined);
        throw error;
      }
      return async (outcome) => {
        // Best effort, never awaited: a Redis hiccup must not hold or change the outcome.
        if ("generation" in outcome) {
          const usage = outcome.generation.usage;
          if (tpm === undefined || !usage) return;
          const used = (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
          if (used !== tokens) void call(CHARGE, [key], [tpm, used - tokens]).catch(() => undefined);
          return;
        }
        const { code, retryAfterMs } = (outcome.error ?? {}) as { code?: unknown; retryAfterMs?: unknown };
        if (code === "http_429" && typeof retryAfterMs === "number") {
          const ms = Math.max(1, Math.round(Math.min(retryAfterMs, maxRetryAfterMs)));
          void call(PAUSE, [key, pause], [ms]).catch(() => undefined);
        }
      };
    },
  };
}

/** setTimeout's longest delay. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

/** The model is a program or model file each worker runs itself (not a server they share). */
function runsOnWorker(spec: ModelSpec): boolean {
  return isProviderName(spec.provider) && providers[spec.provider].file;
}

/** `work`, or its signal's abort reason as soon as it aborts (Redis may not answer for a while). */
function withSignal<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const unsubscribe = onAbort(signal, () => reject(abortReason(signal)));
    work.then(
      (value) => {
        unsubscribe();
        resolve(value);
      },
      (error: unknown) => {
        unsubscribe();
        reject(error);
      },
    );
  });
}

/**
 * The hash of a model's shared limits: `last` the last booked send (ms, Redis's clock), `rpm` and
 * `tpm` the buckets' levels as of then (negative: in debt), `shift` the ms that pauses have moved
 * booked sends by. Each bucket holds a second's worth (at least 1) and refills at its rate.
 */
const BUCKETS = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function cap(perMinute) return math.max(1, perMinute / 60) end
-- Kept while a booked send is ahead or a bucket is in debt, and a minute more (then it is full).
local function keep(key, ms)
  ms = math.ceil(ms) + 60000
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
`;

/**
 * KEYS: hash, pause. ARGV: rpm, tpm (0: none), the request's tokens. Books the request's send:
 * not before now, the last booked send or the pause's end, and when each bucket has refilled to
 * what the request needs (its cost, at most a full bucket); charges both buckets as of then.
 * Returns {wait ms, the send's time, the shift when booked}.
 */
const SCHEDULE = `${BUCKETS}
local t = now()
local start = t
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then start = t + pause end
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if last > start then start = last end
local shift = tonumber(redis.call('HGET', KEYS[1], 'shift') or '0')
local send = start
local buckets = {}
local function plan(name, perMinute, cost)
  if perMinute <= 0 then return end
  local rate = perMinute / 60000
  local level = tonumber(redis.call('HGET', KEYS[1], name) or tostring(cap(perMinute)))
  if last > 0 then level = math.min(cap(perMinute), level + (start - last) * rate) else level = cap(perMinute) end
  local need = math.min(cost, cap(perMinute))
  if level < need then send = math.max(send, start + math.ceil((need - level) / rate)) end
  buckets[#buckets + 1] = {name, perMinute, rate, level, cost}
end
plan('rpm', tonumber(ARGV[1]), 1)
plan('tpm', tonumber(ARGV[2]), tonumber(ARGV[3]))
local recovery = 0
for _, b in ipairs(buckets) do
  local level = math.min(cap(b[2]), b[4] + (send - start) * b[3]) - b[5]
  redis.call('HSET', KEYS[1], b[1], tostring(level))
  recovery = math.max(recovery, (cap(b[2]) - level) / b[3])
end
redis.call('HSET', KEYS[1], 'last', tostring(send))
keep(KEYS[1], send - t + recovery)
return {send - t, send, shift}
`;

/**
 * KEYS: hash, pause. ARGV: the booked send's time, the shift when booked. Returns the ms still to
 * wait: pauses set since the booking moved it on by what they added to the shift, and a request
 * whose time had come before a pause it had not yet seen waits out the pause itself.
 */
const WAKE = `${BUCKETS}
local shift = tonumber(redis.call('HGET', KEYS[1], 'shift') or '0')
return math.max(tonumber(ARGV[1]) + shift - tonumber(ARGV[2]) - now(), redis.call('PTTL', KEYS[2]))
`;

/**
 * KEYS: hash, pause. ARGV: ms. Lengthens the pause to ms from now (never shortens it) and moves
 * every booked send on by what that adds, keeping their order and spacing.
 */
const PAUSE = `${BUCKETS}
local t = now()
local old = redis.call('PTTL', KEYS[2])
local oldEnd = t
if old > 0 then oldEnd = t + old end
local added = t + tonumber(ARGV[1]) - oldEnd
if added <= 0 then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'shift', added)
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if last > t then redis.call('HSET', KEYS[1], 'last', tostring(last + added)) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl + added) else keep(KEYS[1], added) end
return added
`;

/** KEYS: hash. ARGV: tpm, tokens used beyond the request's estimate (negative: a refund). */
const CHARGE = `${BUCKETS}
local level = redis.call('HGET', KEYS[1], 'tpm')
if not level then return 0 end
local tpm = tonumber(ARGV[1])
level = math.min(cap(tpm), tonumber(level) - tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'tpm', tostring(level))
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
keep(KEYS[1], math.max(0, last - now()) + (cap(tpm) - level) / (tpm / 60000))
return 0
`;

/**
 * KEYS: hash. ARGV: rpm, tpm (0: none), tokens. Gives back what a booking charged to each bucket;
 * its turn stays taken (bookings after it were placed behind it).
 */
const REFUND = `${BUCKETS}
local function refund(name, perMinute, cost)
  if perMinute <= 0 then return end
  local level = redis.call('HGET', KEYS[1], name)
  if not level then return end
  redis.call('HSET', KEYS[1], name, tostring(math.min(cap(perMinute), tonumber(level) + cost)))
end
refund('rpm', tonumber(ARGV[1]), 1)
refund('tpm', tonumber(ARGV[2]), tonumber(ARGV[3]))
return 0
`;
