import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAIServer, startOpenAIServer } from "../src/providers/test-utils/openai-server.js";
import { qaRows, runCliAsync, testdir } from "./helpers.js";

// Issue 15: a fresh trial scores each answer as it arrives, and its scoring phase then has nothing
// left to read. These check that the rows are exactly those the scoring phase writes, and that a
// trial stopped half way resumes through the normal scoring phase without a duplicate.

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(async () => {
  await server.close();
});

const trialDir = (dir: string, name: string): string => {
  const exp = join(dir, "runs", name);
  return join(exp, readdirSync(exp).find((d) => d.includes("__"))!);
};
const lines = (path: string): Record<string, unknown>[] =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const events = (stderr: string) =>
  stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("scores written by the inference phase of a fresh trial", () => {
  it("are byte for byte the rows the scoring phase writes, and the scoring phase reads nothing more", async () => {
    const dir = testdir({
      "exp.yaml": `name: inline
task: qa
dataset: data.jsonl
models: [gold]
prompts: {plain: {user: "{{question}}"}}
scorers: [exact, includes, {name: numeric, tolerance: 0.01}]
`,
      "data.jsonl": qaRows(30),
    });
    const first = await runCliAsync(["run", "exp.yaml", "--log", "json"], dir);
    expect(first.code, first.stderr).toBe(0);
    const log = events(first.stderr);
    const start = log.find((e) => e.type === "phase:start" && e.phase === "score");
    // Nothing left to score: every ok prediction was scored as it was written.
    expect(start).toMatchObject({ total: 30, done: 30 });
    expect(log.filter((e) => e.type === "row" && e.phase === "score")).toHaveLength(0);
    const trial = trialDir(dir, "inline");
    const inline = readFileSync(join(trial, "scores.jsonl"), "utf8");
    const rows = lines(join(trial, "scores.jsonl"));
    expect(rows).toHaveLength(90);
    expect(rows.every((r) => typeof r.basis === "string" && r.passed === true)).toBe(true);
    expect(JSON.parse(readFileSync(join(trial, "summary.json"), "utf8")).mean_score).toBe(1);

    // The scoring phase, made to score from scratch, writes the same bytes.
    rmSync(join(trial, "scores.jsonl"));
    const again = await runCliAsync(["run", "exp.yaml", "--log", "json"], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(events(again.stderr).find((e) => e.type === "phase:start" && e.phase === "score")).toMatchObject({
      total: 30,
      done: 0,
    });
    expect(readFileSync(join(trial, "scores.jsonl"), "utf8")).toBe(inline);
  });

  it("a trial stopped half way (--max-cost) resumes through the scoring phase: one score per prediction", async () => {
    const dir = testdir({
      "exp.yaml": `name: inline
task: qa
dataset: data.jsonl
models:
  - {id: local, provider: vllm, model: tiny, base_url: "${server.url}", price: {input: 100000, output: 100000}}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
concurrency: 1
`,
      "data.jsonl": qaRows(40),
    });
    const first = await runCliAsync(
      ["run", "exp.yaml", "--max-cost", "20", "--no-cache", "--log", "plain"],
      dir,
    );
    expect(first.code, first.stderr).toBe(0);
    const trial = trialDir(dir, "inline");
    const bought = lines(join(trial, "predictions.jsonl")).length;
    expect(bought).toBeGreaterThan(0);
    expect(bought).toBeLessThan(40);
    expect(lines(join(trial, "scores.jsonl"))).toHaveLength(bought);

    // The rerun finds predictions on file, so it scores in the scoring phase: the new rows only.
    const second = await runCliAsync(["run", "exp.yaml", "--no-cache", "--log", "json"], dir);
    expect(second.code, second.stderr).toBe(0);
    expect(events(second.stderr).find((e) => e.type === "phase:start" && e.phase === "score")).toMatchObject({
      total: 40,
      done: bought,
    });
    const scores = lines(join(trial, "scores.jsonl"));
    expect(scores).toHaveLength(40);
    expect(new Set(scores.map((s) => s.id)).size).toBe(40);
    const summary = JSON.parse(readFileSync(join(trial, "summary.json"), "utf8"));
    expect(summary.predictions.ok).toBe(40);
    expect(summary.scorers.exact.n).toBe(40);
  });
});
