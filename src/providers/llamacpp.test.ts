import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Completion, GenerateContext, GenerateRequest, Message, Provider } from "../core/index.js";
import { BenchlineError } from "../core/index.js";
import { createLlamaCppProvider } from "./llamacpp.js";
import { predictGreedy, renderTinyChat, tinyTopLogprob, writeTinyGguf } from "./test-utils/tiny-gguf.js";

interface Logprob {
  token: string;
  logprob: number;
  top_logprobs: { token: string; logprob: number }[];
}

let dir: string;
let raw: Provider;
let chat: Provider;

const env = () => ({ baseDir: dir, env: {} });
const provider = (options: Record<string, unknown>): Provider =>
  createLlamaCppProvider(
    { id: "tiny", provider: "llamacpp", model: "tiny.gguf", params: {}, options },
    env(),
  );
const context = (signal = new AbortController().signal): GenerateContext => ({
  signal,
  sample: { id: "s1", input: {} },
});
const request = (prompt: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [{ role: "user", content: prompt }],
  prompt,
  n: 1,
  sampleIndices: [0],
  ...extra,
});
const logprobsOf = (c: Completion | undefined): Logprob[] => c?.extras?.logprobs as Logprob[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "benchline-llamacpp-"));
  await writeTinyGguf(join(dir, "tiny.gguf"));
  // One thread: with two, ggml thread synchronisation costs ~10 ms per token on a busy 2-core machine.
  raw = provider({ mode: "completion", threads: 1 });
  chat = provider({ mode: "chat", threads: 1 });
});

afterAll(async () => {
  await raw?.close?.();
  await chat?.close?.();
  await rm(dir, { recursive: true, force: true });
});

describe("llamacpp provider (tiny model)", () => {
  it("raw completion follows the predicted greedy chain", async () => {
    for (const prompt of ["hello wor", "", "The end.", "abc"]) {
      const expected = predictGreedy(prompt);
      const result = await raw.generate(request(prompt), context());
      expect(result.completions).toEqual([{ text: expected.text, finish_reason: "stop" }]);
      expect(result.usage?.completion_tokens).toBe(expected.tokens);
    }
    // BOS + the space prefix + one token per character.
    expect((await raw.generate(request("hello wor"), context())).usage?.prompt_tokens).toBe(11);
  });

  it("chat goes through the model's chat template", async () => {
    const messages: Message[] = [
      { role: "system", content: "be brief" },
      { role: "user", content: "say hi" },
    ];
    const result = await chat.generate({ ...request(""), messages }, context());
    const expected = predictGreedy(renderTinyChat(messages));
    expect(expected.text).not.toBe(predictGreedy("say hi").text);
    expect(result.completions[0]).toEqual({ text: expected.text, finish_reason: "stop" });
    // A trailing assistant message is continued.
    const prefill = await chat.generate(
      { ...request(""), messages: [...messages, { role: "assistant", content: "ok" }] },
      context(),
    );
    expect(prefill.completions[0]?.text).toBe(predictGreedy("ok").text);
  });

  it("returns top logprobs for every generated token", async () => {
    const expected = predictGreedy("Fin.");
    expect(expected.text.startsWith(" ")).toBe(true);
    const result = await raw.generate(request("Fin.", { top_logprobs: 3 }), context());
    const logprobs = logprobsOf(result.completions[0]);
    expect(logprobs).toHaveLength(expected.tokens);
    expect(result.usage?.completion_tokens).toBe(expected.tokens);
    expect(result.completions[0]?.text).toBe(expected.text);
    expect(logprobs.map((l) => l.token).join("")).toBe(`${expected.text}</s>`);
    for (const entry of logprobs) {
      expect(entry.top_logprobs).toHaveLength(3);
      expect(entry.top_logprobs[0]).toEqual({ token: entry.token, logprob: entry.logprob });
      expect(entry.logprob).toBeCloseTo(tinyTopLogprob(), 4);
      for (const alt of entry.top_logprobs) expect(alt.logprob).toBeLessThanOrEqual(entry.logprob);
    }
  });

  it("cuts the output at the earliest stop string", async () => {
    const one = await raw.generate(request("hello wor", { stop: ["v"] }), context());
    expect(one.completions[0]).toEqual({ text: "stu", finish_reason: "stop" });
    const two = await raw.generate(request("hello wor", { stop: ["xyz", "u"] }), context());
    expect(two.completions[0]).toEqual({ text: "st", finish_reason: "stop" });
  });

  it("stops at max_tokens with finish_reason length", async () => {
    const result = await raw.generate(request("hello wor", { max_tokens: 3 }), context());
    expect(result.completions[0]).toEqual({
      text: predictGreedy("hello wor", 3).text,
      finish_reason: "length",
    });
    expect(result.usage).toEqual({ prompt_tokens: 11, completion_tokens: 3 });
  });

  it("samples reproducibly: sample i uses seed + i", async () => {
    const sampled = { temperature: 1.5, seed: 7, max_tokens: 12, top_logprobs: 1 };
    const three = await raw.generate(request("", { ...sampled, n: 3, sampleIndices: [0, 1, 2] }), context());
    const again = await raw.generate(request("", { ...sampled, n: 3, sampleIndices: [0, 1, 2] }), context());
    expect(again.completions).toEqual(three.completions);
    const texts = three.completions.map((c) => c.text);
    expect(new Set(texts).size).toBeGreaterThan(1);
    const third = await raw.generate(request("", { ...sampled, sampleIndices: [2] }), context());
    expect(third.completions[0]).toEqual(three.completions[2]);
    const other = await raw.generate(
      request("", { ...sampled, seed: 8, n: 3, sampleIndices: [0, 1, 2] }),
      context(),
    );
    expect(other.completions.map((c) => c.text)).not.toEqual(texts);
    for (const entry of three.completions.flatMap(logprobsOf))
      expect(entry.logprob).toBeLessThanOrEqual(entry.top_logprobs[0]!.logprob);
    // A tight nucleus keeps only the most likely token: greedy again.
    const nucleus = await raw.generate(request("", { temperature: 1, top_p: 0.5, seed: 1 }), context());
    expect(nucleus.completions[0]?.text).toBe(predictGreedy("").text);
  });

  it("serialises concurrent calls", async () => {
    const prompts = ["a", "hello", "qrs", "x"];
    const results = await Promise.all(prompts.map((p) => raw.generate(request(p), context())));
    expect(results.map((r) => r.completions[0]?.text)).toEqual(prompts.map((p) => predictGreedy(p).text));
  });

  it("honours an aborted signal", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(raw.generate(request("abc"), context(controller.signal))).rejects.toThrow(/abort/i);
    const later = new AbortController();
    const pending = raw.generate(request("", { max_tokens: 200 }), context(later.signal));
    later.abort();
    await expect(pending).rejects.toThrow(/abort/i);
    // The signal is checked before every token: abort in the middle of a generation.
    let checks = 0;
    const midway = {
      throwIfAborted() {
        if (++checks > 5) throw new DOMException("This operation was aborted", "AbortError");
      },
    } as unknown as AbortSignal;
    await expect(raw.generate(request(""), context(midway))).rejects.toThrow(/abort/i);
    expect(checks).toBe(6);
    expect((await raw.generate(request("abc"), context())).completions[0]?.text).toBe(
      predictGreedy("abc").text,
    );
  });

  it("caps generation at the context size", async () => {
    const small = provider({ mode: "completion", threads: 1, context_size: 16 });
    try {
      const result = await small.generate(request(""), context());
      expect(result.completions[0]).toEqual({ text: predictGreedy("", 15).text, finish_reason: "length" });
      await expect(small.generate(request("x".repeat(20)), context())).rejects.toThrow(/context/);
    } finally {
      await small.close?.();
    }
  });

  it("reports a file that is not a GGUF model as an input error", async () => {
    await writeFile(join(dir, "bad.gguf"), "not a model");
    const bad = createLlamaCppProvider(
      { id: "bad", provider: "llamacpp", model: "bad.gguf", params: {}, options: {} },
      env(),
    );
    await expect(bad.generate(request("a"), context())).rejects.toMatchObject({ code: "input" });
    await bad.close?.();
  });

  it("rejects bad specs when the provider is created", () => {
    const create = (model: string, options: Record<string, unknown> = {}) =>
      createLlamaCppProvider({ id: "x", provider: "llamacpp", model, params: {}, options }, env());
    expect(() => create("missing.gguf")).toThrow(BenchlineError);
    expect(() => create("tiny.gguf", { mode: "bogus" })).toThrow(/mode/);
    expect(() => create("tiny.gguf", { threads: 0 })).toThrow(/threads/);
    expect(() => create("tiny.gguf", { adaptive: true })).toThrow(/adaptive/);
  });

  it("concurrency: requests on parallel sequences answer as they would one at a time", async () => {
    const parallel = provider({ mode: "completion", threads: 1, concurrency: 2 });
    try {
      const prompts = ["hello wor", "abc", "The end.", "count: m"];
      const results = await Promise.all(prompts.map((p) => parallel.generate(request(p), context())));
      expect(results.map((r) => r.completions[0]?.text)).toEqual(prompts.map((p) => predictGreedy(p).text));
    } finally {
      await parallel.close?.();
    }
  });
});
