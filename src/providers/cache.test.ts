import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateRequest, Provider } from "../core/index.js";
import { type CacheKeyParts, cacheKey, withCache } from "./cache.js";
import { ProviderError } from "./http.js";
import { createOpenAIProvider } from "./openai.js";
import { withScheduler } from "./scheduler.js";
import { type OpenAIServer, startOpenAIServer } from "./test-utils/openai-server.js";
import { makeContext, makeEnv, makeRequest, makeSpec, providerContract } from "./test-utils/requests.js";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "benchline-cache-"));
  dirs.push(dir);
  return dir;
};
let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(async () => {
  await server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const key: CacheKeyParts = { provider: "vllm", model: "tiny", base_url: "http://x/v1" };

/** A provider that answers `<prompt>#<sample>` and records what it was asked; it can be told to fail. */
function recorder() {
  const calls: GenerateRequest[] = [];
  let failNext = false;
  const provider: Provider & { calls: GenerateRequest[]; failNext(): void } = {
    id: "rec",
    calls,
    failNext: () => {
      failNext = true;
    },
    async generate(request) {
      calls.push(request);
      if (failNext) {
        failNext = false;
        throw new ProviderError("http_500", "boom");
      }
      return {
        completions: request.sampleIndices.map((s) => ({
          text: `${request.prompt}#${s}`,
          finish_reason: "stop",
        })),
        usage: { prompt_tokens: 10 * request.n, completion_tokens: 4 * request.n },
        cost_usd: 0.002 * request.n,
        attempts: 1,
      };
    },
  };
  return provider;
}

describe("withCache", () => {
  it("prices a hit at the current price from its stored usage", async () => {
    const dir = tempDir();
    const perToken = (usd: number) => (u: { prompt_tokens: number; completion_tokens: number }) =>
      (u.prompt_tokens + u.completion_tokens) * usd;
    const fresh = await withCache(recorder(), { dir, key, cost: perToken(1) }).generate(
      makeRequest("q", { n: 2, sampleIndices: [0, 1] }),
      makeContext(),
    );
    expect(fresh.cost_usd).toBeCloseTo(0.004); // what the provider charged
    const repriced = await withCache(recorder(), { dir, key, cost: perToken(10) }).generate(
      makeRequest("q", { n: 2, sampleIndices: [0, 1] }),
      makeContext(),
    );
    expect(repriced).toMatchObject({ cached: true, usage: { prompt_tokens: 20, completion_tokens: 8 } });
    expect(repriced.cost_usd).toBeCloseTo(280); // 28 tokens at 10 each
    const unpriced = await withCache(recorder(), { dir, key, cost: () => undefined }).generate(
      makeRequest("q"),
      makeContext(),
    );
    expect(unpriced.cost_usd).toBeUndefined();
  });

  providerContract(
    () =>
      withCache(createOpenAIProvider(makeSpec("vllm", "tiny", { base_url: server.url }), makeEnv()), {
        dir: tempDir(),
        key: { provider: "vllm", model: "tiny", base_url: server.url },
      }),
    "cached",
  );

  it("answers a repeated request from disk, marked cached, with its usage and cost", async () => {
    const inner = recorder();
    const dir = tempDir();
    const provider = withCache(inner, { dir, key });
    const first = await provider.generate(makeRequest("q"), makeContext());
    const second = await provider.generate(makeRequest("q"), makeContext());
    expect(inner.calls).toHaveLength(1);
    expect(first).toMatchObject({ cached: false, attempts: 1 });
    expect(second).toEqual({
      completions: [{ text: "q#0", finish_reason: "stop" }],
      usage: { prompt_tokens: 10, completion_tokens: 4 },
      cost_usd: 0.002,
      cached: true,
      attempts: 0,
    });
  });

  it("stores one file per sample under dir/ab/<sha256>.json, with no temp files left", async () => {
    const dir = tempDir();
    const request = makeRequest("files", { n: 2 });
    await withCache(recorder(), { dir, key }).generate(request, makeContext());
    for (const sample of [0, 1]) {
      const hash = cacheKey(key, request, sample);
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      const entry = JSON.parse(readFileSync(join(dir, hash.slice(0, 2), `${hash}.json`), "utf8"));
      expect(entry.completion.text).toBe(`files#${sample}`);
    }
    const all = readdirSync(dir, { recursive: true }).map(String);
    expect(all.filter((f) => f.endsWith(".json"))).toHaveLength(2);
    expect(all.filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("caches per sample: only missing samples are requested, together", async () => {
    const inner = recorder();
    const provider = withCache(inner, { dir: tempDir(), key });
    await provider.generate(makeRequest("p", { sampleIndices: [0, 1] }), makeContext());
    const mixed = await provider.generate(makeRequest("p", { sampleIndices: [1, 2, 3] }), makeContext());
    expect(inner.calls.map((c) => [c.n, c.sampleIndices])).toEqual([
      [2, [0, 1]],
      [2, [2, 3]],
    ]);
    expect(mixed.cached).toBe(false);
    expect(mixed.completions).toEqual([
      { text: "p#1", finish_reason: "stop", extras: { cached: true } },
      { text: "p#2", finish_reason: "stop" },
      { text: "p#3", finish_reason: "stop" },
    ]);
    expect(mixed.usage).toEqual({ prompt_tokens: 30, completion_tokens: 12 });
  });

  it("never gives one sample index another sample's answer", async () => {
    const inner = recorder();
    const provider = withCache(inner, { dir: tempDir(), key });
    await provider.generate(makeRequest("s", { sampleIndices: [0] }), makeContext());
    const other = await provider.generate(makeRequest("s", { sampleIndices: [1] }), makeContext());
    expect(other.completions[0]?.text).toBe("s#1");
    expect(inner.calls).toHaveLength(2);
  });

  it("misses when the model, server, parameters or prompt differ", () => {
    const base = makeRequest("same", { temperature: 0 });
    const hash = cacheKey(key, base, 0);
    expect(cacheKey({ ...key, model: "other" }, base, 0)).not.toBe(hash);
    expect(cacheKey({ ...key, base_url: "http://y/v1" }, base, 0)).not.toBe(hash);
    expect(cacheKey({ ...key, params: { mode: "completion" } }, base, 0)).not.toBe(hash);
    expect(cacheKey(key, { ...base, temperature: 1 }, 0)).not.toBe(hash);
    expect(cacheKey(key, makeRequest("different", { temperature: 0 }), 0)).not.toBe(hash);
    expect(cacheKey(key, { ...base, n: 5, sampleIndices: [0, 1, 2, 3, 4] }, 0)).toBe(hash); // n is not identity
  });

  it("never caches a failure", async () => {
    const inner = recorder();
    const dir = tempDir();
    const provider = withCache(inner, { dir, key });
    inner.failNext();
    await expect(provider.generate(makeRequest("e"), makeContext())).rejects.toMatchObject({
      code: "http_500",
    });
    expect(readdirSync(dir)).toEqual([]);
    const retry = await provider.generate(makeRequest("e"), makeContext());
    expect(retry).toMatchObject({ cached: false, completions: [{ text: "e#0" }] });
    expect(inner.calls).toHaveLength(2);
  });

  it("treats a damaged entry as a miss and rewrites it", async () => {
    const inner = recorder();
    const dir = tempDir();
    const provider = withCache(inner, { dir, key });
    const request = makeRequest("damaged");
    await provider.generate(request, makeContext());
    const hash = cacheKey(key, request, 0);
    writeFileSync(join(dir, hash.slice(0, 2), `${hash}.json`), '{"completion": {"te');
    expect((await provider.generate(request, makeContext())).cached).toBe(false);
    expect((await provider.generate(request, makeContext())).cached).toBe(true);
  });

  it("in front of the scheduler, a rerun sends nothing to the server", async () => {
    const stack = () =>
      withCache(
        withScheduler(createOpenAIProvider(makeSpec("vllm", "tiny", { base_url: server.url }), makeEnv())),
        {
          dir,
          key: { provider: "vllm", model: "tiny", base_url: server.url },
        },
      );
    const dir = tempDir();
    const requests = Array.from({ length: 5 }, (_, i) => makeRequest(`rerun ${i}`, { n: 2 }));
    const first = await Promise.all(requests.map((r) => stack().generate(r, makeContext())));
    const before = server.stats.requests;
    const second = await Promise.all(requests.map((r) => stack().generate(r, makeContext())));
    expect(server.stats.requests).toBe(before);
    expect(second.map((g) => g.completions)).toEqual(first.map((g) => g.completions));
    expect(second.every((g) => g.cached)).toBe(true);
  });
});
