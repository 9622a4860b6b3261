import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainServer, startChainServer } from "../src/providers/test-utils/chain-server.js";
import { TINY_VOCAB_SIZE, tinyTopLogprob, writeTinyGguf } from "../src/providers/test-utils/tiny-gguf.js";
import { runCliAsync, testdir } from "./helpers.js";

let server: ChainServer;
beforeAll(async () => {
  server = await startChainServer({ base: { prefix: " b", uncertainAt: [1] }, oracle: { prefix: "\nO" } });
});
afterAll(() => server.close());

const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const trialOf = (dir: string, name: string) => {
  const exp = join(dir, "runs", name);
  return join(exp, readdirSync(exp).find((d) => d.includes("__")) as string);
};

describe("benchline analyze: base-model uncertainty at oracle consultations", () => {
  it("token level: full-vocabulary statistics at the consultation and a matched point, analysis.jsonl and analysis.md", async () => {
    const dir = testdir({
      "exp.yaml": `
name: tiny
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
    base: {provider: llamacpp, model: base.gguf, threads: 1}
    oracle: {provider: llamacpp, model: oracle.gguf, threads: 1}
    token_level: true
    analysis: true
    c: 1
    k: 4
    step_size: 2
    max_new_tokens: 20
    policy: positions
    positions: [3]
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`,
      "data.jsonl": [
        { id: "a", question: "count: m", answer: "noprtvxyz" },
        { id: "b", question: "count: k", answer: "wrong" },
      ],
    });
    await writeTinyGguf(join(dir, "base.gguf"));
    await writeTinyGguf(join(dir, "oracle.gguf"), { step: 2 });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
    expect(r.code, r.stderr).toBe(0);
    const trial = trialOf(dir, "tiny");
    const rows = jsonl(join(trial, "predictions.jsonl"));
    const a = rows.find((p) => p.id === "a");
    // Every base token and the consultation have a point (the final end-of-sequence step too).
    expect(a.points.map((p: { position: number; consulted: boolean }) => [p.position, p.consulted])).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [3, true],
      [7, false],
      [8, false],
      [9, false],
    ]);
    const consultation = a.points[3];
    expect(consultation).toMatchObject({
      base_token: "q",
      oracle_token: "r",
      agree: false,
      distribution: "full_vocabulary",
    });
    // The tiny model's distribution: the chain's token with probability p, the rest uniform.
    const p = Math.exp(tinyTopLogprob());
    const q = (1 - p) / (TINY_VOCAB_SIZE - 1);
    const entropy = -p * Math.log2(p) - (1 - p) * Math.log2(q);
    expect(consultation.entropy).toBeCloseTo(entropy, 3);
    expect(consultation.top1_prob).toBeCloseTo(p, 4);
    expect(consultation.top1_minus_top2).toBeCloseTo(p - q, 4);
    const varentropy = p * Math.log2(p) ** 2 + (1 - p) * Math.log2(q) ** 2 - entropy ** 2;
    expect(consultation.varentropy).toBeCloseTo(varentropy, 3);

    const out = await runCliAsync(["analyze", trial], dir);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.trim().split("\n")).toEqual([
      join(trial, "analysis.jsonl"),
      join(trial, "analysis.md"),
    ]);
    const analysis = jsonl(join(trial, "analysis.jsonl"));
    // One consultation per row and one matched non-consultation point.
    expect(analysis).toHaveLength(4);
    expect(
      analysis.filter((x) => x.consulted).map((x) => [x.id, x.position, x.normalized_position, x.correct]),
    ).toEqual([
      ["a", 3, 0.3, true],
      ["b", 3, 0.25, false],
    ]);
    for (const x of analysis.filter((y) => !y.consulted)) {
      expect(x.position).not.toBe(3);
      expect(x.oracle_token).not.toBeNull();
    }
    const md = readFileSync(join(trial, "analysis.md"), "utf8");
    expect(md).toContain("2 oracle consultation point(s) and 2 matched non-consultation point(s)");
    expect(md).toContain("the full vocabulary (embedded model)");
    expect(md).toContain("Attention statistics are not reported");
    expect(md).toMatch(new RegExp(`\\| entropy \\| consultation \\| 2 \\| ${entropy.toFixed(3)} \\|`));
    expect(md).toContain("Base and oracle agree on the next token: 0.0% of 2 at consultations");
    expect(md).toMatch(/\| top1_prob \| all \| 4 \|/);
    // The same seed gives the same files.
    const again = await runCliAsync(["analyze", trial, "--out", "."], dir);
    expect(again.code).toBe(0);
    expect(readFileSync(join(dir, "analysis.jsonl"), "utf8")).toBe(
      readFileSync(join(trial, "analysis.jsonl"), "utf8"),
    );
  });

  it("HTTP: statistics from top logprobs (recorded as such), the oracle's first token at consultations", async () => {
    const dir = testdir({
      "exp.yaml": `
name: http
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
    base: {provider: vllm, model: base, base_url: "${server.url}", mode: completion}
    oracle: {provider: vllm, model: oracle, base_url: "${server.url}", mode: completion}
    analysis: true
    c: 1
    k: 1
    max_new_tokens: 4
    policy: positions
    positions: [2]
prompts: {qa: {user: "Q: {{question}}\\nA:"}}
scorers: [includes]
`,
      "data.jsonl": [{ id: "r1", question: "one", answer: "O2" }],
    });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
    expect(r.code, r.stderr).toBe(0);
    const trial = trialOf(dir, "http");
    const [row] = jsonl(join(trial, "predictions.jsonl"));
    expect(row.completion).toBe(" b0 b1\nO2 b3");
    const points = row.points as Record<string, unknown>[];
    expect(points.map((p) => [p.position, p.consulted, p.base_token, p.oracle_token, p.agree])).toEqual([
      [0, false, " b0", null, null],
      [1, false, " b1", null, null],
      [2, true, " b2", "\nO2", false],
      [3, false, " b3", null, null],
    ]);
    expect(points.every((p) => p.distribution === "top_logprobs")).toBe(true);
    // Uncertain at 1: four tokens of 0.25 each.
    expect(points[1]?.entropy).toBeCloseTo(2, 6);
    expect(points[1]?.top1_minus_top2).toBeCloseTo(0, 6);
    // Elsewhere 0.97 and 0.01, and the leftover 0.02 as one more outcome.
    const h = -(0.97 * Math.log2(0.97) + 0.01 * Math.log2(0.01) + 0.02 * Math.log2(0.02));
    expect(points[2]?.entropy).toBeCloseTo(h, 6);
    expect(points[2]?.top1_prob).toBeCloseTo(0.97, 6);
    const out = await runCliAsync(["analyze", trial], dir);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(join(trial, "analysis.md"), "utf8")).toContain("the server's top logprobs");
  });

  it("a guided trial run without analysis: true is a clear error, and nothing is written", async () => {
    const dir = testdir({
      "exp.yaml": `
name: plain
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
    base: {provider: vllm, model: base, base_url: "${server.url}", mode: completion}
    oracle: {provider: vllm, model: oracle, base_url: "${server.url}", mode: completion}
    c: 1
    k: 1
    max_new_tokens: 3
prompts: {qa: {user: "Q: {{question}}\\nA:"}}
scorers: [includes]
`,
      "data.jsonl": [{ id: "r1", question: "one", answer: "O2" }],
    });
    expect((await runCliAsync(["run", "exp.yaml"], dir)).code).toBe(0);
    const trial = trialOf(dir, "plain");
    const out = await runCliAsync(["analyze", trial], dir);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(
      /predictions\.jsonl: no row has analysis points; run the guided model with analysis: true/,
    );
    expect(existsSync(join(trial, "analysis.jsonl"))).toBe(false);
    const missing = await runCliAsync(["analyze", join(dir, "nowhere")], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nowhere: not a trial directory/);
  });
});
