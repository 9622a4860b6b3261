import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BenchlineError } from "../core/index.js";
import { parseRetryAfter } from "./http.js";
import { createOpenAIProvider, openAISpecFromString, resolveOpenAIConfig } from "./openai.js";
import { type OpenAIServer, startOpenAIServer } from "./test-utils/openai-server.js";
import { makeContext, makeEnv, makeRequest, makeSpec, providerContract } from "./test-utils/requests.js";

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(() => server.close());
afterEach(() => server.setFaults(undefined));

const local = (options: Record<string, unknown> = {}, model = "tiny") =>
  createOpenAIProvider(makeSpec("vllm", model, { base_url: server.url, ...options }), makeEnv());

describe("openai provider", () => {
  providerContract(() => local(), "chat");
  providerContract(() => local({ mode: "completion" }), "completion");

  it("sends chat messages and sampling parameters, returns text, finish reason and usage", async () => {
    const request = makeRequest("hello there", {
      temperature: 0.5,
      top_p: 0.9,
      max_tokens: 50,
      stop: ["\n"],
      seed: 7,
    });
    const generation = await local().generate(request, makeContext());
    expect(generation.completions).toEqual([{ text: "chat 0 seed=7 | hello there", finish_reason: "stop" }]);
    expect(generation.usage).toEqual({ prompt_tokens: 3, completion_tokens: 6 });
    expect(generation.cost_usd).toBe(0); // self-hosted
    const body = server.stats.bodies.at(-1);
    expect(body).toMatchObject({
      model: "tiny",
      temperature: 0.5,
      top_p: 0.9,
      max_tokens: 50,
      stop: ["\n"],
      seed: 7,
    });
    expect(body?.messages).toEqual(request.messages);
    expect(body).not.toHaveProperty("n");
  });

  it("uses /completions with the flattened prompt in completion mode", async () => {
    const generation = await local({ mode: "completion" }).generate(
      makeRequest("raw text", { max_tokens: 3 }),
      makeContext(),
    );
    expect(generation.completions).toEqual([{ text: "text 0 seed=-", finish_reason: "length" }]);
    expect(server.stats.bodies.at(-1)).toMatchObject({ prompt: "raw text", max_tokens: 3 });
  });

  it("asks for n samples in one request when the server honours n", async () => {
    const before = server.stats.requests;
    const generation = await local().generate(makeRequest("many", { n: 3 }), makeContext());
    expect(generation.completions.map((c) => c.text)).toEqual([
      "chat 0 seed=- | many",
      "chat 1 seed=- | many",
      "chat 2 seed=- | many",
    ]);
    expect(server.stats.requests - before).toBe(1);
    expect(server.stats.bodies.at(-1)?.n).toBe(3);
  });

  it("defect 8.6: with a seed, asks for each sample alone with seed + sample index", async () => {
    const before = server.stats.bodies.length;
    const request = makeRequest("seeded", { n: 3, sampleIndices: [4, 5, 6], seed: 100 });
    const generation = await local().generate(request, makeContext());
    expect(generation.completions.map((c) => c.text)).toEqual([
      "chat 0 seed=104 | seeded",
      "chat 0 seed=105 | seeded",
      "chat 0 seed=106 | seeded",
    ]);
    const bodies = server.stats.bodies.slice(before);
    expect(bodies.map((b) => [b.n, b.seed]).sort()).toEqual([
      [undefined, 104],
      [undefined, 105],
      [undefined, 106],
    ]);
    expect(generation.usage).toEqual({ prompt_tokens: 6, completion_tokens: 15 });
    // Sample 5 alone is the same text as sample 5 asked with its neighbours.
    const alone = await local().generate(
      makeRequest("seeded", { sampleIndices: [5], seed: 100 }),
      makeContext(),
    );
    expect(alone.completions[0]?.text).toBe("chat 0 seed=105 | seeded");
  });

  it("fills samples one request at a time when the server ignores n", async () => {
    const lazy = await startOpenAIServer({ ignoreN: true });
    try {
      const provider = createOpenAIProvider(makeSpec("vllm", "tiny", { base_url: lazy.url }), makeEnv());
      const request = makeRequest("fill", { n: 3, sampleIndices: [4, 5, 6] });
      const generation = await provider.generate(request, makeContext());
      expect(generation.completions.map((c) => c.text)).toEqual([
        "chat 0 seed=- | fill",
        "chat 0 seed=5 | fill",
        "chat 0 seed=6 | fill",
      ]);
      expect(lazy.stats.requests).toBe(3);
      expect(generation.usage).toEqual({ prompt_tokens: 3, completion_tokens: 15 });
      await provider.close?.();
    } finally {
      await lazy.close();
    }
  });

  it("normalises chat logprobs", async () => {
    const generation = await local().generate(makeRequest("a b", { top_logprobs: 2 }), makeContext());
    expect(server.stats.bodies.at(-1)).toMatchObject({ logprobs: true, top_logprobs: 2 });
    const logprobs = generation.completions[0]?.extras?.logprobs as {
      token: string;
      top_logprobs: unknown[];
    }[];
    expect(logprobs).toHaveLength(6); // "chat 0 seed=- | a b"
    expect(logprobs[0]).toEqual({
      token: "chat ",
      logprob: -0.1,
      top_logprobs: [
        { token: "chat ", logprob: -0.1 },
        { token: "alt1", logprob: -1.1 },
      ],
    });
  });

  it("normalises legacy completion logprobs to the same shape, best first", async () => {
    const generation = await local({ mode: "completion" }).generate(
      makeRequest("x", { top_logprobs: 3 }),
      makeContext(),
    );
    expect(server.stats.bodies.at(-1)?.logprobs).toBe(3);
    const logprobs = generation.completions[0]?.extras?.logprobs as unknown[];
    expect(logprobs).toHaveLength(5);
    expect(logprobs[1]).toEqual({
      token: "0 ",
      logprob: -0.2,
      top_logprobs: [
        { token: "0 ", logprob: -0.2 },
        { token: "alt1", logprob: -1.2 },
        { token: "alt2", logprob: -2.2 },
      ],
    });
  });

  it("rotates keys from options.api_keys round-robin", async () => {
    const env = makeEnv({ KEY_A: "sk-test-aaaa", KEY_B: "sk-test-bbbb" });
    const provider = createOpenAIProvider(
      makeSpec("openai", "gpt-4o-mini", { base_url: server.url, api_keys: ["KEY_A", "KEY_B"] }),
      env,
    );
    server.stats.keys.clear();
    for (let i = 0; i < 6; i++) await provider.generate(makeRequest(`k${i}`), makeContext());
    expect(Object.fromEntries(server.stats.keys)).toEqual({ "sk-test-aaaa": 3, "sk-test-bbbb": 3 });
  });

  it("prices hosted models from the table", async () => {
    const provider = createOpenAIProvider(
      makeSpec("openai", "gpt-4o-mini-2024-07-18", { base_url: server.url }),
      makeEnv({ OPENAI_API_KEY: "sk-x" }),
    );
    const generation = await provider.generate(makeRequest("abcdefgh"), makeContext());
    expect(generation.usage).toEqual({ prompt_tokens: 2, completion_tokens: 5 }); // "chat 0 seed=- | abcdefgh"
    expect(generation.cost_usd).toBeCloseTo((2 * 0.15 + 5 * 0.6) / 1e6, 12);
  });

  it("never lets the API key reach an error, even when the server echoes it", async () => {
    const secret = "sk-live-supersecret-0123456789";
    const provider = createOpenAIProvider(
      makeSpec("openai", "gpt-4o", { base_url: server.url, api_key_env: "MY_KEY" }),
      makeEnv({ MY_KEY: secret }),
    );
    for (const status of [401, 500]) {
      server.setFaults([{ status, body: `{"error": "bad key Bearer ${secret} (${secret.slice(0, 20)})"}` }]);
      const error = await provider.generate(makeRequest("leak?"), makeContext()).catch((e: unknown) => e);
      expect((error as { code: string }).code).toBe(status === 401 ? "auth" : "http_500");
      const everything = `${String(error)} ${(error as Error).stack} ${JSON.stringify(error)}`;
      expect(everything).not.toContain(secret);
      expect(everything).toContain("***");
    }
    expect(JSON.stringify(provider)).not.toContain(secret);
  });

  it("codes failures: status, Retry-After, malformed JSON, reset, refused connection", async () => {
    const provider = local();
    const failure = (fault: Parameters<OpenAIServer["setFaults"]>[0]) => {
      server.setFaults(fault);
      return provider.generate(makeRequest("f"), makeContext()).catch((e: unknown) => e);
    };
    expect(await failure([{ status: 429, retryAfter: "3" }])).toMatchObject({
      code: "http_429",
      retryAfterMs: 3000,
    });
    expect(await failure(["500"])).toMatchObject({ code: "http_500", status: 500 });
    expect(await failure([{ status: 404 }])).toMatchObject({ code: "http_404" });
    expect(await failure(["malformed"])).toMatchObject({ code: "bad_response" });
    expect(await failure(["reset"])).toMatchObject({ code: "connection" });
    expect(await failure([{ status: 200, body: '{"choices": []}' }])).toMatchObject({ code: "bad_response" });
    const closed = createOpenAIProvider(
      makeSpec("vllm", "m", { base_url: "http://127.0.0.1:9/v1" }),
      makeEnv(),
    );
    await expect(closed.generate(makeRequest("f"), makeContext())).rejects.toMatchObject({
      code: "connection_refused",
      fatal: true,
    });
  });

  it("aborts an in-flight request at once", async () => {
    server.setFaults(["hang"]);
    const controller = new AbortController();
    const started = Date.now();
    const pending = local().generate(makeRequest("hang"), makeContext(controller.signal));
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: "aborted" });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe("openai model entries", () => {
  it("parses preset spec strings", () => {
    expect(openAISpecFromString("openai", "gpt-4o-mini")).toEqual({ model: "gpt-4o-mini", options: {} });
    expect(openAISpecFromString("ollama", "llama3.1:8b")).toEqual({ model: "llama3.1:8b", options: {} });
    expect(openAISpecFromString("vllm", "Qwen/Qwen2.5-7B@http://gpu:8000")).toEqual({
      model: "Qwen/Qwen2.5-7B",
      options: { base_url: "http://gpu:8000/v1" },
    });
    expect(openAISpecFromString("llamacpp-server", "http://127.0.0.1:8080/")).toEqual({
      options: { base_url: "http://127.0.0.1:8080/v1" },
    });
    expect(() => openAISpecFromString("openai", "")).toThrow(BenchlineError);
  });

  it("defect 8.2: a spec string's URL becomes the base URL, and the model name loses it", () => {
    expect(resolveOpenAIConfig(makeSpec("vllm", "Qwen/Qwen2.5-7B@http://gpu:8000"), makeEnv())).toMatchObject(
      {
        baseUrl: "http://gpu:8000/v1",
        model: "Qwen/Qwen2.5-7B",
      },
    );
    const server = resolveOpenAIConfig(makeSpec("llamacpp-server", "http://10.0.0.2:8080"), makeEnv());
    expect(server.baseUrl).toBe("http://10.0.0.2:8080/v1");
    expect(server.model).toBeUndefined();
    expect(() =>
      resolveOpenAIConfig(makeSpec("vllm", "m@http://a:1", { base_url: "http://b:2/v1" }), makeEnv()),
    ).toThrow(/base URL is given twice/);
  });

  it("resolves base URLs and keys from options, presets and the environment", () => {
    expect(resolveOpenAIConfig(makeSpec("ollama", "llama3.1:8b"), makeEnv())).toMatchObject({
      baseUrl: "http://127.0.0.1:11434/v1",
      model: "llama3.1:8b",
      mode: "chat",
      keyEnvs: [],
    });
    const fromEnv = makeEnv({ OPENAI_API_KEY: "sk-1", OPENAI_BASE_URL: "https://router.example/api/v1/" });
    expect(resolveOpenAIConfig(makeSpec("openai", "gpt-4o"), fromEnv)).toMatchObject({
      baseUrl: "https://router.example/api/v1",
      keyEnvs: ["OPENAI_API_KEY"],
    });
    // A local server never receives OPENAI_API_KEY unless told to.
    expect(resolveOpenAIConfig(makeSpec("vllm", "m"), fromEnv).keyEnvs).toEqual([]);
  });

  it("rejects bad entries with config errors that name the problem, not the secret", () => {
    const bad = (spec: ReturnType<typeof makeSpec>, env = makeEnv()) => {
      try {
        createOpenAIProvider(spec, env);
      } catch (error) {
        return error as BenchlineError;
      }
      throw new Error("expected a config error");
    };
    expect(bad(makeSpec("openai", "gpt-4o")).message).toContain("OPENAI_API_KEY");
    expect(bad(makeSpec("openai", undefined), makeEnv({ OPENAI_API_KEY: "k" })).message).toContain(
      "model name",
    );
    expect(bad(makeSpec("vllm", "m", { api_keys: ["NOPE"] })).message).toContain("NOPE");
    expect(bad(makeSpec("vllm", "m", { mode: "fim" })).code).toBe("config");
    expect(bad(makeSpec("vllm", "m", { base_url: "ftp://x" })).code).toBe("config");
  });

  it("parses Retry-After as seconds, HTTP dates and retry-after-ms", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("2", undefined, now)).toBe(2000);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:07 GMT", undefined, now)).toBe(7000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", undefined, now)).toBe(0);
    expect(parseRetryAfter("2", "150", now)).toBe(150);
    expect(parseRetryAfter("soon", undefined, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, undefined, now)).toBeUndefined();
  });
});
