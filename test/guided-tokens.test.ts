import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainServer, startChainServer } from "../src/providers/test-utils/chain-server.js";
import { writeTinyGguf } from "../src/providers/test-utils/tiny-gguf.js";
import { runCliAsync, testdir } from "./helpers.js";

// Two tiny GGUF models sharing a vocabulary with different greedy chains: the base advances the
// alphabet one letter per token (m → n o p …), the oracle two (p → r t v x …); both end after z.
let server: ChainServer;
beforeAll(async () => {
  server = await startChainServer({ base: { prefix: "", letters: 1 }, oracle: { prefix: "", letters: 2 } });
});
afterAll(() => server.close());

const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

interface Row {
  completion: string;
  finish_reason: string;
  interleaved: { text: string; model: string; tokens: number }[];
  cheat_positions: number[];
  total_tokens: number;
  guided: Record<"base" | "oracle", { tokens: number; usage: { prompt_tokens: number } }>;
  points?: Record<string, unknown>[];
}

/** Runs one guided trial over the tiny models (`mode`: token_level, llamacpp text level, or HTTP). */
async function runGuided(mode: "tokens" | "text" | "http", fields: string, questions = ["count: m"]) {
  const models = {
    tokens: `    base: {provider: llamacpp, model: base.gguf, threads: 1}
    oracle: {provider: llamacpp, model: oracle.gguf, threads: 1}
    token_level: true`,
    text: `    base: {provider: llamacpp, model: base.gguf, threads: 1}
    oracle: {provider: llamacpp, model: oracle.gguf, threads: 1}`,
    http: `    base: {provider: vllm, model: base, base_url: "${server.url}"}
    oracle: {provider: vllm, model: oracle, base_url: "${server.url}"}`,
  }[mode];
  const dir = testdir({
    "exp.yaml": `
name: tiny
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
${models}
${fields}
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`,
    "data.jsonl": questions.map((question, i) => ({ id: `q${i}`, question, answer: "x" })),
  });
  await writeTinyGguf(join(dir, "base.gguf"));
  await writeTinyGguf(join(dir, "oracle.gguf"), { step: 2 });
  const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
  expect(r.code, r.stderr).toBe(0);
  const exp = join(dir, "runs", "tiny");
  const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
  const rows = (jsonl(join(exp, trial as string, "predictions.jsonl")) as (Row & { id: string })[]).sort(
    (a, b) => a.id.localeCompare(b.id),
  );
  return { dir, trialDir: join(exp, trial as string), rows };
}

const shape = (r: Row) => ({
  completion: r.completion,
  finish: r.finish_reason,
  interleaved: r.interleaved,
  cheat_positions: r.cheat_positions,
  total_tokens: r.total_tokens,
});

describe("guided decoding at the token level, in process (two tiny GGUF models)", () => {
  it("positions policy: the exact interleaving, end of sequence, each token evaluated once per model", async () => {
    const fields = `    c: 1
    k: 4
    step_size: 2
    max_new_tokens: 20
    policy: positions
    positions: [3]`;
    const { rows } = await runGuided("tokens", fields);
    const row = rows[0] as Row;
    expect(shape(row)).toEqual({
      completion: "noprtvxyz",
      finish: "stop",
      interleaved: [
        { text: "nop", model: "base", tokens: 3 },
        { text: "rtvx", model: "oracle", tokens: 4 },
        // y, z and the end-of-sequence token
        { text: "yz", model: "base", tokens: 3 },
      ],
      cheat_positions: [3],
      total_tokens: 10,
    });
    // The prompt is 10 tokens (<s>, the tokenizer's leading ▁, 8 characters). The base evaluates it,
    // then every generated token but the last once (19); the oracle the prompt, the base's n o p and
    // its own r t v (16). A model that re-evaluated the prefix after a switch would evaluate more.
    expect(row.guided.base.usage.prompt_tokens).toBe(19);
    expect(row.guided.oracle.usage.prompt_tokens).toBe(16);
    expect(row.guided.base.tokens).toBe(6);
    expect(row.guided.oracle.tokens).toBe(4);
  });

  it("the same chains give the same interleaving in process, over llamacpp text calls and over HTTP", async () => {
    const fields = `    c: 3
    k: 2
    step_size: 1
    max_new_tokens: 12
    policy: random
    p0: 0.2
    seed: 7`;
    const questions = ["count: a", "count: f", "count: m"];
    const tokens = (await runGuided("tokens", fields, questions)).rows.map(shape);
    const text = (await runGuided("text", fields, questions)).rows.map(shape);
    const http = (await runGuided("http", fields, questions)).rows.map(shape);
    expect(text).toEqual(tokens);
    expect(http).toEqual(tokens);
    // The seeded policy consulted somewhere, and the oracle's letters skip one.
    expect(tokens.some((r) => r.cheat_positions.length > 0)).toBe(true);
    for (const r of tokens) {
      expect(r.cheat_positions.length).toBeLessThanOrEqual(3);
      for (const s of r.interleaved.filter((x) => x.model === "oracle"))
        expect(s.text.length).toBeLessThanOrEqual(6);
    }
  });

  it("refuses two models whose vocabularies differ, naming the entry, before anything is written", async () => {
    const dir = testdir({
      "exp.yaml": `
name: tiny
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
    base: {provider: llamacpp, model: base.gguf}
    oracle: {provider: llamacpp, model: other.gguf}
    token_level: true
    c: 1
    k: 2
    max_new_tokens: 8
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`,
      "data.jsonl": [{ id: "a", question: "count: m", answer: "x" }],
    });
    await writeTinyGguf(join(dir, "base.gguf"));
    await writeTinyGguf(join(dir, "other.gguf"), { extraTokens: ["@"] });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /models\[0\] \("guided"\): token_level needs base and oracle with the same vocabulary; base\.gguf and other\.gguf differ \((\d+) vs \1?\d+ tokens\)/,
    );
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("token_level with a model that is not embedded is a config error naming the entry", async () => {
    const dir = testdir({
      "exp.yaml": `
name: tiny
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
    base: {provider: llamacpp, model: base.gguf}
    oracle: {provider: vllm, model: oracle, base_url: "${server.url}"}
    token_level: true
    c: 1
    k: 2
    max_new_tokens: 8
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`,
      "data.jsonl": [{ id: "a", question: "count: m", answer: "x" }],
    });
    await writeTinyGguf(join(dir, "base.gguf"));
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /models\[0\] \("guided"\): token_level needs two embedded models; oracle "vllm:oracle" is provider vllm/,
    );
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("token_level runs one request at a time: concurrency on base/oracle or on the guided entry is refused", async () => {
    const exp = (extra: string, base = "{provider: llamacpp, model: base.gguf}") => `
name: tiny
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
    base: ${base}
    oracle: {provider: llamacpp, model: base.gguf}
    token_level: true
    c: 1
    k: 2
    max_new_tokens: 8
${extra}
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`;
    const dir = testdir({
      "sub.yaml": exp("", "{provider: llamacpp, model: base.gguf, concurrency: 2}"),
      "entry.yaml": exp("    concurrency: 2"),
      "data.jsonl": [{ id: "a", question: "count: m", answer: "x" }],
    });
    await writeTinyGguf(join(dir, "base.gguf"));
    const sub = await runCliAsync(["run", "sub.yaml"], dir);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain(
      'models[0] ("guided"): base: "concurrency" does not apply with token_level (one request at a time, in process)',
    );
    const entry = await runCliAsync(["run", "entry.yaml"], dir);
    expect(entry.code).toBe(2);
    expect(entry.stderr).toMatch(/concurrency: not supported by provider "guided"/);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });
});
