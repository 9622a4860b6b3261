import type { Redis } from "ioredis";
import type { GenerateRequest, Generation } from "../core/index.js";
import { estimateTokens, raceAbort, sleep } from "../providers/index.js";

/**
 * Rate limits that workers hold together, as the scheduler holds them on one machine
 * (`providers/scheduler.ts`, RateLimiter): token buckets for requests and tokens a minute, each
 * holding one second's burst; callers served in turn; a request sent when every bucket allows it
 * and charged to each then; a pause after a 429 that holds everyone back.
 *
 * How: each request books its send time in one Lua script (SCHEDULE), on Redis's clock: after the
 * last booked send (the turn), after any pause, and when both buckets have refilled enough; both
 * buckets are charged as of that time. It sleeps until then and asks again (WAKE): a pause set
 * meanwhile moves every booked send on by what it adds (a shift counted in the hash), so requests
 * booked before a 429 do not all go when it ends, and keep their order and spacing. A request
 * stopped while it waits gives back what it booked. `tpm` is charged the usage the server
 * reports once the answer comes (`charge`), not only the estimate.
 *
 * Redis errors are thrown as they are; a wait ends with the signal's abort reason as soon as it
 * aborts, even while Redis does not answer.
 */
export class SharedBuckets {
  constructor(
    private readonly redis: Redis,
    /** The hash holding the buckets and the booked turn. */
    private readonly key: string,
    /** The key whose time to live is the pause after a 429. */
    private readonly pauseKey: string,
    private readonly rates: { rpm?: number | undefined; tpm?: number | undefined },
  ) {}

  /** Waits this request's turn; returns the tokens it was charged (0 without `tpm`). */
  async take(request: GenerateRequest, signal: AbortSignal): Promise<number> {
    const { rpm = 0, tpm } = this.rates;
    const tokens = tpm === undefined ? 0 : estimateTokens(request);
    const [wait, at, shift] = (await this.call(
      SCHEDULE,
      [this.key, this.pauseKey],
      [rpm, tpm ?? 0, tokens],
      signal,
    )) as [number, number, number];
    try {
      for (let left = wait; left > 0; ) {
        await sleep(Math.min(left, MAX_SLEEP_MS), signal);
        left = (await this.call(WAKE, [this.key, this.pauseKey], [at, shift], signal)) as number;
      }
    } catch (error) {
      // Stopped while waiting its turn: what it booked is given back (best effort).
      void this.call(REFUND, [this.key], [rpm, tpm ?? 0, tokens]).catch(() => undefined);
      throw error;
    }
    return tokens;
  }

  /** After the answer: the tokens bucket is charged what the server reported instead of `charged`. */
  async charge(generation: Generation, charged: number): Promise<void> {
    const { tpm } = this.rates;
    const usage = generation.usage;
    if (tpm === undefined || !usage) return;
    const used = (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
    if (used !== charged) await this.call(CHARGE, [this.key], [tpm, used - charged]);
  }

  /** Holds every worker back for `ms` from now (never shortens a pause), moving booked sends on. */
  async pause(ms: number): Promise<void> {
    await this.call(PAUSE, [this.key, this.pauseKey], [Math.max(1, Math.round(ms))]);
  }

  private call(script: string, keys: string[], args: number[], signal?: AbortSignal): Promise<unknown> {
    // Redis may not answer for a while: a wait ends as soon as the signal aborts.
    const reply = this.redis.eval(script, keys.length, ...keys, ...args);
    return signal ? raceAbort(reply, signal) : reply;
  }
}

/** setTimeout's longest delay. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

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
  -- As of the last booked send, refilled to the start; full when nothing was booked.
  local level = cap(perMinute)
  local stored = redis.call('HGET', KEYS[1], name)
  if last > 0 and stored then level = math.min(level, tonumber(stored) + (start - last) * rate) end
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
