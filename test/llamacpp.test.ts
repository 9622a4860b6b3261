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
});
