import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { qaRows, runCli, testdir } from "./helpers.js";

const config = `
name: offline
task: qa
dataset: data.jsonl
models: [gold]
prompts:
  plain: {system: "Answer briefly.", user: "Q: {{question}}"}
scorers: [exact]
`;

const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const rows = qaRows(5);
const answers = (wrong: Set<string> = new Set()) =>
  rows.map((r) => ({ id: r.id, completion: wrong.has(r.id) ? "no idea" : r.answer }));

describe("export / import (offline inference)", () => {
  it("exports one line per unique item with the full prompt, and says how many", () => {
    const dir = testdir({ "exp.yaml": config, "data.jsonl": rows });
    const r = runCli(["export", "exp.yaml", "-o", "prompts.jsonl"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wrote 5 prompt(s) to prompts.jsonl");
    const lines = jsonl(join(dir, "prompts.jsonl"));
    expect(lines).toHaveLength(5);
    expect(lines[0]).toEqual({
      id: "q0",
      prompt: "Answer briefly.\n\nQ: What is 0 plus one?",
      system: "Answer briefly.",
      user: "Q: What is 0 plus one?",
      messages: [
        { role: "system", content: "Answer briefly." },
        { role: "user", content: "Q: What is 0 plus one?" },
      ],
    });
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("imports completions and evaluates them like a live model; repeated ids are samples in file order", () => {
    const responses = [...answers(new Set(["q1"])), ...answers()]; // q1: sample 0 wrong, sample 1 right
    const dir = testdir({ "exp.yaml": config, "data.jsonl": rows, "responses.jsonl": responses });
    const r = runCli(
      ["import", "exp.yaml", "--responses", "responses.jsonl", "--name", "my-model", "--samples", "2"],
      dir,
    );
    expect(r.code).toBe(0);
    const exp = join(dir, "runs/offline");
    const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
    expect(trial).toMatch(/^my-model__plain__/);
    const preds = jsonl(join(exp, trial!, "predictions.jsonl"));
    expect(preds.find((p) => p.id === "q1" && p.sample === 0)).toMatchObject({
      completion: "no idea",
      model: "my-model",
      status: "ok",
    });
    expect(preds.find((p) => p.id === "q1" && p.sample === 1)).toMatchObject({ completion: "2" });
    const summary = JSON.parse(readFileSync(join(exp, trial!, "summary.json"), "utf8"));
    expect(summary.mean_score).toBeCloseTo(0.9);
    expect(summary.pass_at_k.find((p: { k: number }) => p.k === 2).pass_at_k).toBe(1);
  });

  it("missing ids: exit 2 listing them, nothing written; --allow-missing records error rows", () => {
    const dir = testdir({
      "exp.yaml": config,
      "data.jsonl": rows,
      "responses.jsonl": answers().filter((a) => a.id !== "q2" && a.id !== "q4"),
    });
    const r = runCli(["import", "exp.yaml", "--responses", "responses.jsonl"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/responses\.jsonl: no response for 2 dataset id\(s\): q2, q4/);
    expect(existsSync(join(dir, "runs"))).toBe(false);

    const ok = runCli(["import", "exp.yaml", "--responses", "responses.jsonl", "--allow-missing"], dir);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("2 dataset id(s) have no response; recorded as errors");
    const exp = join(dir, "runs/offline");
    const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
    const errors = jsonl(join(exp, trial!, "predictions.jsonl")).filter((p) => p.status === "error");
    expect(errors.map((e) => e.id).sort()).toEqual(["q2", "q4"]);
    expect(errors[0].error.code).toBe("missing_response");
  });

  it("too few completions for samples, malformed lines and unknown ids", () => {
    const dir = testdir({
      "exp.yaml": config,
      "data.jsonl": rows,
      "responses.jsonl": answers(),
      "bad.jsonl": `${JSON.stringify(answers()[0])}\n{"id": "q1", "completion": }\n`,
      "extra.jsonl": [...answers(), { id: "zz1", completion: "x" }, { id: "zz2", completion: "y" }],
    });
    const short = runCli(["import", "exp.yaml", "--responses", "responses.jsonl", "--samples", "3"], dir);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(
      /id "q0" needs 3 completion\(s\) \(samples: 3\), got 1 \(and 4 more id\(s\)\)/,
    );

    const bad = runCli(["import", "exp.yaml", "--responses", "bad.jsonl"], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^benchline: bad\.jsonl:2: not valid JSON/);

    const extra = runCli(["import", "exp.yaml", "--responses", "extra.jsonl"], dir);
    expect(extra.code).toBe(0);
    expect(extra.stderr).toContain("2 response id(s) are not in the dataset; ignored");
  });

  it("an import: model sits beside live models in one sweep", () => {
    const dir = testdir({
      "exp.yaml": config.replace("models: [gold]", "models: [gold, 'import:responses.jsonl']"),
      "data.jsonl": rows,
      "responses.jsonl": answers(new Set(["q0", "q3"])),
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(0);
    const comparison = JSON.parse(readFileSync(join(dir, "runs/offline/comparison.json"), "utf8"));
    expect(comparison.comparisons).toHaveLength(1);
    expect(comparison.comparisons[0]).toMatchObject({ mean_a: 1, mean_b: 0.6, n_shared: 5 });
  });

  it("defect 8.5: run accepts --allow-missing, which its missing-ids error suggests", () => {
    const dir = testdir({
      "exp.yaml": config.replace("models: [gold]", "models: [gold, 'import:responses.jsonl']"),
      "data.jsonl": rows,
      "responses.jsonl": answers().filter((a) => a.id !== "q3"),
    });
    const refused = runCli(["run", "exp.yaml"], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /responses\.jsonl: no response for 1 dataset id\(s\): q3 \(--allow-missing/,
    );
    const r = runCli(["run", "exp.yaml", "--allow-missing"], dir);
    expect(r.code).toBe(0);
    const exp = join(dir, "runs/offline");
    const trial = readdirSync(exp).find((d) => d.startsWith("import-responses.jsonl__"))!;
    const errors = jsonl(join(exp, trial, "predictions.jsonl")).filter((p) => p.status === "error");
    expect(errors.map((e) => [e.id, e.error.code])).toEqual([["q3", "missing_response"]]);
  });

  it("issue 17 defect 8: conflicting lines for one id and sample are an error naming both lines", () => {
    const row = (id: string, completion: string) => ({ id, sample: 0, status: "ok", completion });
    const dir = testdir({
      "exp.yaml": config,
      "data.jsonl": rows,
      "conflict.jsonl": [...rows.map((r) => row(r.id, r.answer)), row("q2", "9")],
      "repeat.jsonl": [...rows.map((r) => row(r.id, r.answer)), row("q2", "3")],
      "extra.jsonl": [...answers(), ...answers()],
    });
    const conflict = runCli(["import", "exp.yaml", "--responses", "conflict.jsonl"], dir);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(
      /^benchline: conflict\.jsonl:6: id "q2" sample 0 has a different completion at line 3/,
    );
    expect(existsSync(join(dir, "runs"))).toBe(false);
    // The same answer twice is no conflict.
    expect(runCli(["import", "exp.yaml", "--responses", "repeat.jsonl"], dir).code).toBe(0);
    // Repeated {id, completion} lines are samples: with --samples 1 the second ones are unused, and it says so.
    const extra = runCli(["import", "exp.yaml", "--responses", "extra.jsonl", "--name", "x"], dir);
    expect(extra.code).toBe(0);
    expect(extra.stderr).toContain(
      "5 id(s) have more completions than samples (1); the extra ones are not used",
    );
  });

  it("import refuses completions whose prompt_hash is not the chosen prompt set's", () => {
    const twoSets = config.replace(
      'plain: {system: "Answer briefly.", user: "Q: {{question}}"}',
      'plain: {system: "Answer briefly.", user: "Q: {{question}}"}\n  other: {user: "Question: {{question}}"}',
    );
    const dir = testdir({ "exp.yaml": twoSets, "data.jsonl": rows });
    expect(runCli(["run", "exp.yaml", "-p", "plain", "--name", "made"], dir).code).toBe(0);
    const made = join(dir, "runs/made");
    const trial = readdirSync(made).find((d) => d.includes("__"))!;
    const predictions = join("runs/made", trial, "predictions.jsonl");
    const wrong = runCli(["import", "exp.yaml", "--responses", predictions, "-p", "other"], dir);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(
      /^benchline: runs\/made\/.*\/predictions\.jsonl:1: id "q0" answered another prompt \(prompt_hash \w+; prompt set "other" gives \w+\)/,
    );
    expect(existsSync(join(dir, "runs/offline"))).toBe(false);
    const right = runCli(["import", "exp.yaml", "--responses", predictions, "-p", "plain"], dir);
    expect(right.code).toBe(0);
  });
});
