import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainServer, startChainServer } from "../src/providers/test-utils/chain-server.js";
import { runCliAsync, testdir } from "./helpers.js";

let server: ChainServer;
beforeAll(async () => {
  server = await startChainServer({ base: { prefix: " b" }, oracle: { prefix: "\nO" } });
});
afterAll(() => server.close());

const rows = [
  { id: "r1", question: "one", answer: "O2" },
  { id: "r2", question: "two", answer: "b0" },
];
const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const trialDirs = (exp: string) =>
  readdirSync(exp)
    .filter((d) => d.includes("__"))
    .sort();

const experiment = (model: string, extra = "") => `
name: g
task: qa
dataset: data.jsonl
prompts:
  qa: {user: "Q: {{question}}\\nA:"}
scorers: [includes]
models:
${model}
${extra}`;

const guidedEntry = (fields: string, base = "mode: completion") => `
  - id: guided
    provider: guided
    base: {provider: vllm, model: base, base_url: "${server.url}", ${base}}
    oracle: {provider: vllm, model: oracle, base_url: "${server.url}", mode: completion}
${fields}`;

describe("guided decoding through the CLI", () => {
  it("benchline run with a guided model writes the interleaving, positions and per-model tokens on each row", async () => {
    const dir = testdir({
      "exp.yaml": experiment(
        guidedEntry(`    c: 1
    k: 2
    step_size: 2
    max_new_tokens: 6
    policy: positions
    positions: [2]`),
      ),
      "data.jsonl": rows,
    });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
    expect(r.code, r.stderr).toBe(0);
    const [trial] = trialDirs(join(dir, "runs", "g"));
    const predictions = jsonl(join(dir, "runs", "g", trial as string, "predictions.jsonl"));
    expect(predictions).toHaveLength(2);
    for (const p of predictions) {
      expect(p.status).toBe("ok");
      expect(p.completion).toBe(" b0 b1\nO2\nO3 b4 b5");
      expect(p.interleaved).toEqual([
        { text: " b0 b1", model: "base", tokens: 2 },
        { text: "\nO2\nO3", model: "oracle", tokens: 2 },
        { text: " b4 b5", model: "base", tokens: 2 },
      ]);
      expect(p.cheat_positions).toEqual([2]);
      expect(p.total_tokens).toBe(6);
      expect(p.guided.base.tokens).toBe(4);
      expect(p.guided.oracle.tokens).toBe(2);
      expect(p.usage.completion_tokens).toBe(6);
    }
    const scores = jsonl(join(dir, "runs", "g", trial as string, "scores.jsonl"));
    expect(scores.map((s) => s.passed)).toEqual([true, true]);
  });

  it("a chat-mode base model is a config error naming the entry, and nothing is written", async () => {
    const dir = testdir({
      "exp.yaml": experiment(guidedEntry("    c: 1\n    k: 2\n    max_new_tokens: 6", "mode: chat")),
      "data.jsonl": rows,
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/model "guided": base: .*needs mode: completion/);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });
});
