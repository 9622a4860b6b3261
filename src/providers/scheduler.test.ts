import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Provider } from "../core/index.js";
import { abortReason } from "./http.js";
import { createOpenAIProvider } from "./openai.js";
import {
  type Clock,
  isRetryable,
  type SchedulerOptions,
  schedulerOptionsFrom,
  withScheduler,
} from "./scheduler.js";
import { type OpenAIServer, startOpenAIServer } from "./test-utils/openai-server.js";
import { makeContext, makeEnv, makeRequest, makeSpec, providerContract } from "./test-utils/requests.js";

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(() => server.close());
afterEach(() => {
  server.setFaults(undefined);
  server.setLatency(0);
});

/** A clock whose sleeps return at once and move time forward; it records every sleep. */
function fakeClock(): Clock & { sleeps: number[]; time: number } {
  const clock = {
    sleeps: [] as number[],
    time: 0,
    now: () => clock.time,
    async sleep(ms: number, signal?: AbortSignal) {
      if (signal?.aborted) throw abortReason(signal);
      clock.sleeps.push(ms);
      clock.time += ms;
      await Promise.resolve();
    },
  };
  return clock;
}

const remote = (): Provider =>
  createOpenAIProvider(makeSpec("vllm", "tiny", { base_url: server.url, concurrency: 64 }), makeEnv());
const scheduled = (options: SchedulerOptions) => withScheduler(remote(), { random: () => 0, ...options });
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );
const requestsDuring = async (fn: () => Promise<unknown>) => {
  const before = server.stats.requests;
  await fn();
  return server.stats.requests - before;
};

describe("withScheduler", () => {
  providerContract(() => withScheduler(remote()), "scheduled");

  it("waits as long as Retry-After says (seconds), then succeeds", async () => {
    const clock = fakeClock();
    server.setFaults([{ status: 429, retryAfter: "2" }]);
    const generation = await scheduled({ clock }).generate(makeRequest("ra"), makeContext());
    expect(generation.attempts).toBe(2);
    expect(clock.sleeps).toEqual([2000]);
  });

  it("honours Retry-After given as an HTTP date", async () => {
    const clock = fakeClock();
    server.setFaults([{ status: 503, retryAfter: new Date(Date.now() + 3000).toUTCString() }]);
    await scheduled({ clock }).generate(makeRequest("date"), makeContext());
    expect(clock.sleeps).toHaveLength(1);
    expect(clock.sleeps[0]).toBeGreaterThan(1000);
    expect(clock.sleeps[0]).toBeLessThanOrEqual(3000);
  });

  it("backs off exponentially with full jitter when there is no Retry-After", async () => {
    const clock = fakeClock();
    server.setFaults(["500", "reset", "malformed"]);
    const provider = scheduled({ clock, backoffMs: 100, random: () => 0.5 });
    const generation = await provider.generate(makeRequest("backoff"), makeContext());
    expect(generation.attempts).toBe(4);
    expect(clock.sleeps).toEqual([50, 100, 200]);
    expect(provider.stats()).toMatchObject({ attempts: 4, retries: 3 });
  });

  it("does not retry 400, 401 or 404", async () => {
    for (const status of [400, 401, 404]) {
      server.setFaults([{ status }]);
      let error: unknown;
      const sent = await requestsDuring(async () => {
        error = await failure(scheduled({ clock: fakeClock() }).generate(makeRequest("no"), makeContext()));
      });
      expect(sent).toBe(1);
      expect(error).toMatchObject({ code: status === 401 ? "auth" : `http_${status}`, attempts: 1 });
    }
    expect(isRetryable("http_502")).toBe(true);
    expect(isRetryable("http_422")).toBe(false);
  });

  it("a fatal error (401) is not retried and trips the provider: later requests fail at once, unsent", async () => {
    server.setFaults(() => ({ status: 401, body: "bad key" }));
    const provider = scheduled({ clock: fakeClock(), concurrency: 2 });
    let errors: unknown[] = [];
    const sent = await requestsDuring(async () => {
      errors = await Promise.all(
        Array.from({ length: 20 }, (_, i) => failure(provider.generate(makeRequest(`k${i}`), makeContext()))),
      );
    });
    expect(sent).toBeLessThanOrEqual(2); // only what was in flight when the first 401 came back
    for (const error of errors) expect(error).toMatchObject({ code: "auth", fatal: true });
    expect(errors.filter((e) => (e as { attempts: number }).attempts === 0).length).toBeGreaterThanOrEqual(
      18,
    );
    server.setFaults(undefined);
    // Tripped for good: even a request that would now succeed is not sent.
    expect(await requestsDuring(() => failure(provider.generate(makeRequest("later"), makeContext())))).toBe(
      0,
    );
  });

  it("a refused connection fails within a second, not after max_attempts backoffs", async () => {
    const closed = withScheduler(
      createOpenAIProvider(makeSpec("vllm", "m", { base_url: "http://127.0.0.1:9/v1" }), makeEnv()),
    );
    const started = Date.now();
    const errors = await Promise.all(
      Array.from({ length: 40 }, () => failure(closed.generate(makeRequest("x"), makeContext()))),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    for (const error of errors) expect(error).toMatchObject({ code: "connection_refused", fatal: true });
    expect(errors[0]).toMatchObject({ attempts: 1 });
    await closed.close?.();
  });

  it("reports each retry to context.onRetry: attempt, wait and error code", async () => {
    server.setFaults(["500", { status: 429, retryAfter: "3" }]);
    const retries: unknown[] = [];
    const generation = await scheduled({ clock: fakeClock() }).generate(makeRequest("r"), {
      ...makeContext(),
      onRetry: (retry) => retries.push(retry),
    });
    expect(generation.attempts).toBe(3);
    expect(retries).toEqual([
      { attempt: 1, wait_ms: 0, code: "http_500", message: expect.stringContaining("HTTP 500") },
      { attempt: 2, wait_ms: 3000, code: "http_429", message: expect.stringContaining("HTTP 429") },
    ]);
  });

  it("gives up after maxAttempts with the last error and its attempt count", async () => {
    server.setFaults(() => "500");
    let error: unknown;
    const sent = await requestsDuring(async () => {
      error = await failure(
        scheduled({ clock: fakeClock(), maxAttempts: 3 }).generate(makeRequest("x"), makeContext()),
      );
    });
    expect(sent).toBe(3);
    expect(error).toMatchObject({ code: "http_500", attempts: 3 });
  });

  it("times out a hung attempt and retries it", async () => {
    server.setFaults(() => "hang");
    const started = Date.now();
    const error = await failure(
      scheduled({ clock: fakeClock(), timeoutMs: 100, maxAttempts: 2 }).generate(
        makeRequest("h"),
        makeContext(),
      ),
    );
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({ code: "timeout", attempts: 2 });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2000);
  });

  it("never has more than `concurrency` requests at the server", async () => {
    const fresh = await startOpenAIServer({ latencyMs: 30 });
    try {
      const base = createOpenAIProvider(makeSpec("vllm", "m", { base_url: fresh.url }), makeEnv());
      const provider = withScheduler(base, { concurrency: 3 });
      await Promise.all(
        Array.from({ length: 12 }, (_, i) => provider.generate(makeRequest(`c${i}`), makeContext())),
      );
      expect(fresh.stats.maxInFlight).toBe(3);
    } finally {
      await fresh.close();
    }
  });

  it("issue 15: adaptive concurrency starts at the configured concurrency (it only backs off on 429)", async () => {
    const fresh = await startOpenAIServer({ latencyMs: 100, trackPrompts: false });
    try {
      const base = createOpenAIProvider(makeSpec("vllm", "m", { base_url: fresh.url }), makeEnv());
      const limits: number[] = [];
      const provider = withScheduler(base, {
        concurrency: 32,
        adaptive: true,
        onLimitChange: (l) => limits.push(l),
      });
      expect(provider.stats().limit).toBe(32);
      const all = Array.from({ length: 64 }, (_, i) =>
        provider.generate(makeRequest(`s${i}`), makeContext()),
      );
      // The first 32 are sent at once, before any answer: no slow start.
      expect(provider.stats()).toMatchObject({ limit: 32, inFlight: 32, queued: 32 });
      await Promise.all(all);
      expect(fresh.stats.ok).toBe(64);
      expect(limits).toEqual([]);
      await provider.close?.();
    } finally {
      await fresh.close();
    }
  });

  it("halves concurrency once per burst of 429s and climbs back one at a time", async () => {
    const limits: number[] = [];
    const provider = scheduled({ clock: fakeClock(), concurrency: 8, onLimitChange: (l) => limits.push(l) });
    // Each burst request is throttled on its first attempt only.
    const burst = Array.from({ length: 8 }, (_, i) =>
      provider.generate(makeRequest(`b${i} [[fault:429]]`), makeContext()),
    );
    await Promise.all(burst);
    expect(limits[0]).toBe(4); // eight 429s from one window: one decrease, not three
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => provider.generate(makeRequest(`r${round}${i}`), makeContext())),
      );
    }
    expect(limits).toEqual([4, 5, 6, 7, 8]);
    expect(provider.stats()).toMatchObject({ limit: 8, throttled: 8 });
  });

  it("spaces requests to the requests-per-minute limit", async () => {
    const clock = fakeClock();
    const provider = scheduled({ clock, rpm: 60 });
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => provider.generate(makeRequest(`rpm${i}`), makeContext())),
    );
    expect(clock.time).toBeCloseTo(4000, 0); // one per second after the first
  });

  it("spaces requests to the tokens-per-minute limit (prompt chars / 4 + max_tokens)", async () => {
    const clock = fakeClock();
    const provider = scheduled({ clock, tpm: 6000 }); // 100 tokens per second
    const request = (i: number) => makeRequest(`${i}`.padEnd(400, "."), { max_tokens: 100 }); // 200 tokens
    await Promise.all(Array.from({ length: 4 }, (_, i) => provider.generate(request(i), makeContext())));
    expect(clock.time).toBeCloseTo(6000, 0);
  });

  it("aborts in-flight and queued requests at once with code aborted", async () => {
    server.setFaults(() => "hang");
    const provider = scheduled({ concurrency: 4 });
    const controller = new AbortController();
    const pending = Array.from({ length: 10 }, (_, i) =>
      failure(provider.generate(makeRequest(`a${i}`), makeContext(controller.signal))),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(server.stats.inFlight).toBe(4);
    const started = Date.now();
    controller.abort();
    const errors = await Promise.all(pending);
    expect(Date.now() - started).toBeLessThan(100);
    for (const error of errors) expect(error).toMatchObject({ code: "aborted" });
    await new Promise((r) => setTimeout(r, 50));
    expect(server.stats.inFlight).toBe(0); // the sockets were closed, not left hanging
  });

  it("aborts a request that is waiting out a long Retry-After", async () => {
    server.setFaults([{ status: 429, retryAfter: "30" }]);
    const controller = new AbortController();
    const pending = failure(scheduled({}).generate(makeRequest("wait"), makeContext(controller.signal)));
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    expect(await pending).toMatchObject({ code: "aborted" });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it("shared limits: every attempt waits its turn outside its timeout and reports its outcome", async () => {
    const outcomes: string[] = [];
    const shared = {
      async take() {
        // Longer than the attempt's timeout: the wait must not count in it.
        await new Promise((r) => setTimeout(r, 250));
        outcomes.push("take");
        return async (outcome: { generation: unknown } | { error: unknown }) => {
          outcomes.push("generation" in outcome ? "ok" : String((outcome.error as { code?: string }).code));
        };
      },
    };
    server.setFaults([{ status: 429, retryAfter: "0" }]);
    const provider = scheduled({ clock: fakeClock(), timeoutMs: 100, maxAttempts: 2, shared });
    const generation = await provider.generate(makeRequest("s"), makeContext());
    expect(generation.attempts).toBe(2);
    expect(outcomes).toEqual(["take", "http_429", "take", "ok"]);
  });

  it("reads its settings from model options", () => {
    expect(
      schedulerOptionsFrom({ concurrency: 4, rpm: 100, timeout: 30, max_attempts: 2, base_url: "x" }),
    ).toEqual({
      concurrency: 4,
      rpm: 100,
      timeoutMs: 30_000,
      maxAttempts: 2,
    });
    expect(() => schedulerOptionsFrom({ concurrency: 0 })).toThrow(/concurrency/);
  });
});

describe("fault-injection soak", () => {
  const faults = ["429", "500", "503", "hang", "malformed", "reset", "400"] as const;
  const codeOf: Record<(typeof faults)[number], string> = {
    "429": "http_429",
    "500": "http_500",
    "503": "http_503",
    hang: "timeout",
    malformed: "bad_response",
    reset: "connection",
    "400": "http_400",
  };

  it("200 requests with mixed faults at concurrency 16 all end as expected, none hang", async () => {
    const maxAttempts = 3;
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const plans = Array.from({ length: 200 }, () =>
      Array.from(
        { length: Math.floor(random() * 4) },
        () => faults[Math.floor(random() * faults.length)] ?? "500",
      ),
    );
    const provider = withScheduler(remote(), { concurrency: 16, maxAttempts, timeoutMs: 200, backoffMs: 5 });
    const started = Date.now();
    const outcomes = await Promise.all(
      plans.map((plan, i) =>
        provider.generate(makeRequest(`soak ${i} [[fault:${plan.join(",")}]]`), makeContext()).then(
          (generation) => ({ code: "ok", attempts: generation.attempts }),
          (error: { code?: unknown; attempts?: unknown }) => ({ code: error.code, attempts: error.attempts }),
        ),
      ),
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    for (const [i, plan] of plans.entries()) {
      const expected = expectedOutcome(plan, maxAttempts);
      expect({ i, ...outcomes[i] }).toEqual({ i, ...expected });
      const prompt = `soak ${i} [[fault:${plan.join(",")}]]`;
      expect(server.stats.attemptsByPrompt.get(prompt)).toBe(expected.attempts);
    }
    const codes = new Set(outcomes.map((o) => o.code));
    expect(codes.size).toBeGreaterThan(4); // the plan really mixed outcomes
  });

  function expectedOutcome(plan: (typeof faults)[number][], maxAttempts: number) {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const fault = plan[attempt - 1];
      if (fault === undefined) return { code: "ok", attempts: attempt };
      if (fault === "400" || attempt === maxAttempts) return { code: codeOf[fault], attempts: attempt };
    }
    throw new Error("unreachable");
  }
});

describe("providers that time their own requests out (timesOut)", () => {
  /** A provider that records the context of each call and answers at once. */
  const recording = () => {
    const seen: { signal: AbortSignal; timeoutMs?: number }[] = [];
    const provider: Provider = {
      id: "rec",
      timesOut: true,
      async generate(_request, context) {
        seen.push({
          signal: context.signal,
          ...(context.timeoutMs !== undefined ? { timeoutMs: context.timeoutMs } : {}),
        });
        return { completions: [{ text: "ok" }] };
      },
    };
    return { provider, seen };
  };

  it("get the caller's own signal and the timeout (no timer or abort controller per attempt)", async () => {
    const { provider, seen } = recording();
    const context = makeContext();
    await withScheduler(provider, { timeoutMs: 30_000 }).generate(makeRequest("q"), context);
    expect(seen).toEqual([{ signal: context.signal, timeoutMs: 30_000 }]);
  });

  it("a timeout shorter than their timers keep is kept by the scheduler, as for any provider", async () => {
    const { provider, seen } = recording();
    const context = makeContext();
    await withScheduler(provider, { timeoutMs: 200 }).generate(makeRequest("q"), context);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.signal).not.toBe(context.signal);
    expect(seen[0]!.timeoutMs).toBeUndefined();
  });

  it("the openai provider with a 5 s timeout fails a hung request with code timeout, once per attempt", async () => {
    server.setFaults(["hang", "hang"]);
    const started = Date.now();
    const error = await failure(
      withScheduler(remote(), { timeoutMs: 5000, maxAttempts: 2, backoffMs: 1 }).generate(
        makeRequest("hung"),
        makeContext(),
      ),
    );
    expect(error).toMatchObject({ code: "timeout", attempts: 2, message: "no response within 5000 ms" });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(9000);
    expect(took).toBeLessThan(15_000);
  }, 30_000);
});
