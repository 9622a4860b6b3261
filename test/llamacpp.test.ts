import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { predictGreedy, writeTinyGguf } from "../src/providers/test-utils/tiny-gguf.js";
import { runCliAsync, testdir } from "./helpers.js";

describe("llamacpp: an embedded model through the whole pipeline", () => {
  it("evaluates the generated tiny model with known greedy output and per-token logprobs", async () => {
    const rows = [
      { id: "a", question: "hello wor", answer: predictGreedy("hello wor", 6).text },
      { id: "b", question: "count: m", answer: "nope" },
    ];
    const dir = testdir({
      "exp.yaml": `
name: tiny
task: qa
dataset: data.jsonl
models:
  - {id: tiny, provider: llamacpp, model: tiny.gguf, mode: completion, max_tokens: 6, temperature: 0, top_logprobs: 2, threads: 1}
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`,
      "data.jsonl": rows,
    });
    await writeTinyGguf(join(dir, "tiny.gguf"));
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(0);
    const exp = join(dir, "runs/tiny");
    const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
    const preds = readFileSync(join(exp, trial!, "predictions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const a = preds.find((p) => p.id === "a");
    expect(a.completion).toBe(predictGreedy("hello wor", 6).text);
    expect(a.finish_reason).toBe("length");
    expect(a.logprobs).toHaveLength(6);
    expect(a.logprobs[0].top_logprobs).toHaveLength(2);
    expect(preds.find((p) => p.id === "b").completion).toBe(predictGreedy("count: m", 6).text);
    const summary = JSON.parse(readFileSync(join(exp, trial!, "summary.json"), "utf8"));
    expect(summary.mean_score).toBe(0.5);
  });

  it("defect 8.4: llamacpp honours concurrency, rpm, timeout and max_attempts", async () => {
    const rows = ["hello wor", "count: m", "abc"].map((question, i) => ({
      id: `q${i}`,
      question,
      answer: "x",
    }));
    const common = "provider: llamacpp, model: tiny.gguf, mode: completion, max_tokens: 4, threads: 1";
    const dir = testdir({
      "exp.yaml": `
name: tiny
task: qa
dataset: data.jsonl
models:
  - {id: parallel, ${common}, concurrency: 2}
  - {id: paced, ${common}, rpm: 30}
  - {id: hasty, ${common}, timeout: 0.001, max_attempts: 2}
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`,
      "data.jsonl": rows,
    });
    await writeTinyGguf(join(dir, "tiny.gguf"));
    // No cache: the three models are one file, and the paced one must really ask.
    await runCliAsync(["run", "exp.yaml", "--no-cache"], dir);
    const exp = join(dir, "runs/tiny");
    const predictions = (model: string) => {
      const trial = readdirSync(exp).find((d) => d.startsWith(`${model}__`))!;
      return readFileSync(join(exp, trial, "predictions.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
    };
    // Two requests at a time on two sequences: each answer is still the model's own greedy chain.
    for (const p of predictions("parallel")) {
      const question = rows.find((r) => r.id === p.id)!.question;
      expect(p.completion).toBe(predictGreedy(question, 4).text);
    }
    // rpm: 30 lets one request through every two seconds (the first also waits for the model to
    // load, so the gap between the last two is what shows the pacing).
    const times = predictions("paced")
      .map((p) => Date.parse(p.created_at))
      .sort((a, b) => a - b);
    expect(times[2]! - times[1]!).toBeGreaterThan(1500);
    // A 1 ms timeout aborts every attempt; each row records the timeout and both attempts.
    for (const p of predictions("hasty")) {
      expect(p).toMatchObject({ status: "error", attempts: 2, error: { code: "timeout" } });
    }
  });

  it("defect 8.4: --timeout reaches the embedded model", async () => {
    const dir = testdir({
      "exp.yaml": `
name: tiny
task: qa
dataset: data.jsonl
models: [{id: m, provider: llamacpp, model: tiny.gguf, mode: completion, max_attempts: 1, threads: 1}]
prompts: {raw: {user: "{{question}}"}}
`,
      "data.jsonl": [{ id: "a", question: "hello wor", answer: "x" }],
    });
    await writeTinyGguf(join(dir, "tiny.gguf"));
    await runCliAsync(["run", "exp.yaml", "--timeout", "0.001"], dir);
    const exp = join(dir, "runs/tiny");
    const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
    const [row] = readFileSync(join(exp, trial!, "predictions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(row).toMatchObject({ status: "error", error: { code: "timeout" } });
  });
});
