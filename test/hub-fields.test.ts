import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, testdir } from "./helpers.js";

/** Rows whose columns differ from the qa task's `{question, answer}`. */
const rows = [
  { uid: "a", prompt_text: "What is 1 plus one?", alt: "Say two", gold: "2" },
  { uid: "b", prompt_text: "What is 2 plus one?", alt: "Say three", gold: "3" },
];

const exp = (fields: string) => `
name: mapped
task: qa
dataset: data.jsonl
fields: ${fields}
models: [gold]
prompts: {plain: {user: "Q: {{question}}"}}
`;

const trialDirs = (dir: string) => readdirSync(join(dir, "runs/mapped")).filter((d) => d.includes("__"));

describe("fields: task fields read from dataset columns of other names", { timeout: 240_000 }, () => {
  it("maps columns for every phase (run, export, import) and is part of the trial's identity", () => {
    const dir = testdir({
      "exp.yaml": exp("{id: uid, question: prompt_text, answer: gold}"),
      "data.jsonl": rows,
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const [trial] = trialDirs(dir);
    const trialDir = join(dir, "runs/mapped", trial!);
    const prompts = readFileSync(join(trialDir, "prompts.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(prompts.map((p) => [p.id, p.prompt])).toEqual([
      ["a", "Q: What is 1 plus one?"],
      ["b", "Q: What is 2 plus one?"],
    ]);
    expect(JSON.parse(readFileSync(join(trialDir, "summary.json"), "utf8")).mean_score).toBe(1);
    expect(JSON.parse(readFileSync(join(trialDir, "trial.json"), "utf8")).spec.dataset.fields).toEqual({
      id: "uid",
      question: "prompt_text",
      answer: "gold",
    });

    const exported = runCli(["export", "exp.yaml", "-o", "prompts.jsonl"], dir);
    expect(exported.code).toBe(0);
    const lines = readFileSync(join(dir, "prompts.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.id, l.prompt])).toEqual([
      ["a", "Q: What is 1 plus one?"],
      ["b", "Q: What is 2 plus one?"],
    ]);
    writeFileSync(
      join(dir, "answers.jsonl"),
      `${JSON.stringify({ id: "a", completion: "2" })}\n${JSON.stringify({ id: "b", completion: "4" })}\n`,
    );
    const imported = runCli(["import", "exp.yaml", "--responses", "answers.jsonl"], dir);
    expect(imported.code).toBe(0);
    const importDir = trialDirs(dir).find((d) => d.startsWith("import"));
    expect(
      JSON.parse(readFileSync(join(dir, "runs/mapped", importDir!, "summary.json"), "utf8")).mean_score,
    ).toBe(0.5);

    // Another column for the question is another trial (same file, same data).
    writeFileSync(join(dir, "exp.yaml"), exp("{id: uid, question: alt, answer: gold}"));
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const after = trialDirs(dir).filter((d) => d.startsWith("gold"));
    expect(after).toHaveLength(2);
    const fresh = after.find((d) => d !== trial)!;
    expect(readFileSync(join(dir, "runs/mapped", fresh, "prompts.jsonl"), "utf8")).toContain("Q: Say two");
  });

  it("an unknown task field is a config error naming it and the task's fields; nothing is written", () => {
    const dir = testdir({ "exp.yaml": exp("{instruction: prompt_text}"), "data.jsonl": rows });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'exp.yaml: fields.instruction: "instruction" is not a field of task "qa" (fields: id, question, answer, category)',
    );
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("a row without the mapped column is an input error naming the line, the column and the field", () => {
    const dir = testdir({
      "exp.yaml": exp("{question: prompt_text, answer: gold}"),
      "data.jsonl": [...rows, { uid: "c", gold: "4" }],
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("data.jsonl:3:");
    expect(r.stderr).toContain('no column "prompt_text" (fields.question reads it)');
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("a mapped field that is optional may have no column in a row", () => {
    const dir = testdir({
      "exp.yaml": exp("{question: prompt_text, answer: gold, category: kind}"),
      "data.jsonl": [
        { ...rows[0], kind: "easy" },
        { ...rows[1], category: "ignored" },
      ],
    });
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const [trial] = trialDirs(dir);
    const summary = JSON.parse(readFileSync(join(dir, "runs/mapped", trial!, "summary.json"), "utf8"));
    // Row b's own `category` is not read: category comes from `kind`, which b does not have.
    expect(Object.keys(summary.per_category)).toEqual(["easy"]);
  });
});
