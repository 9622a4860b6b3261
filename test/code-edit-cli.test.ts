import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { C0, calcRows as rows, T0 } from "./code-edit-calc.js";
import { makeRepo } from "./code-edit-repo.js";
import { runCliAsync, testdir } from "./helpers.js";

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("code-edit end to end through the CLI", () => {
  it("variants as prompt sets; gold resolves every instance in every variant; an imported model is graded; reports written", async () => {
    const repo = makeRepo({ "calc.py": C0, "tests/__init__.py": "", "tests/test_calc.py": T0 });
    const data = rows(repo.commit);
    const dir = testdir({
      "exp.yaml": [
        "name: edits",
        `task: {name: code-edit, repos: {demo/calc: ${repo.dir}}, variants: ["0.4", "None_body_issue", "0.4_bm25_1"]}`,
        "dataset: data.jsonl",
        "models: [gold, 'import:responses.jsonl']",
        "execution: {timeout: 60}",
        "",
      ].join("\n"),
      "data.jsonl": data,
      "responses.jsonl": [
        { id: "demo__calc-pull-1", completion: "I cannot help with that." },
        { id: "demo__calc-2", completion: `Here you go:\n<patch>\n${data[1]?.patch}</patch>` },
      ],
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    const exp = join(dir, "runs/edits");
    const trials = readdirSync(exp).filter((d) => d.includes("__"));
    expect(trials.map((t) => t.split("__").slice(0, 2).join("__")).sort()).toEqual(
      [
        "gold__0.4",
        "gold__0.4_bm25_1",
        "gold__none_body_issue",
        "import-responses.jsonl__0.4",
        "import-responses.jsonl__0.4_bm25_1",
        "import-responses.jsonl__none_body_issue",
      ].sort(),
    );
    for (const trial of trials) {
      const executions = new Map(lines(join(exp, trial, "executions.jsonl")).map((e) => [e.id, e]));
      const summary = JSON.parse(readFileSync(join(exp, trial, "summary.json"), "utf8"));
      if (trial.startsWith("gold")) {
        for (const e of executions.values()) {
          expect(e, trial).toMatchObject({ status: "ok", passed: true, applied: true });
          expect(e.report[e.id]).toMatchObject({ patch_successfully_applied: true, resolved: true });
        }
      } else {
        expect(executions.get("demo__calc-2")).toMatchObject({
          passed: true,
          artifact: { method: "diff_tag" },
        });
        expect(executions.get("demo__calc-pull-1")).toMatchObject({
          passed: false,
          applied: false,
          artifact: { method: "raw" },
        });
      }
      expect(JSON.stringify(summary)).toContain("applied");
    }
    // The prompts are the variants': 0.4 shows step 1 as history, None shows none.
    const prompt = (variant: string) =>
      lines(
        join(
          exp,
          trials.find((t) => t.startsWith(`gold__${variant.toLowerCase()}__`)) as string,
          "prompts.jsonl",
        ),
      ).find((p) => p.id === "demo__calc-pull-1").prompt as string;
    expect(prompt("0.4")).toContain("[start of step 1]");
    expect(prompt("None_body_issue")).not.toContain("<change_history>");
    expect(r.stderr).toMatch(/gold__0\.4__[0-9a-f]{8}: 100\.0%/);

    // Other tools' formats from a trial directory.
    const imported = join(exp, trials.find((t) => t.startsWith("import-responses.jsonl__0.4__")) as string);
    const swe = await runCliAsync(["convert", imported, "--to", "swebench", "--out", "preds.jsonl"], dir);
    expect(swe.code, swe.stderr).toBe(0);
    const preds = lines(join(dir, "preds.jsonl"));
    expect(preds).toEqual([
      {
        instance_id: "demo__calc-2",
        model_name_or_path: "responses.jsonl",
        model_patch: `\n${data[1]?.patch}`,
      },
      {
        instance_id: "demo__calc-pull-1",
        model_name_or_path: "responses.jsonl",
        model_patch: "I cannot help with that.",
      },
    ]);
    const eb = await runCliAsync(["convert", imported, "--to", "editbench", "--out", "eb"], dir);
    expect(eb.code, eb.stderr).toBe(0);
    const ebRows = lines(join(dir, "eb/experiment_results/responses.jsonl/T=0/n=1/data_0.4.jsonl"));
    expect(ebRows[0]).toMatchObject({
      instance_id: "demo__calc-2",
      status: "success",
      full_output: expect.stringContaining("<patch>"),
    });
    expect(Object.keys(ebRows[0])).toEqual([
      "instance_id",
      "model_name",
      "prompt",
      "full_output",
      "model_patch",
      "cost",
      "response_time",
      "status",
      "error",
    ]);
    const rep = await runCliAsync(["convert", imported, "--to", "swebench-report", "--out", "rep"], dir);
    expect(rep.code, rep.stderr).toBe(0);
    const perInstance = JSON.parse(readFileSync(join(dir, "rep/report.json"), "utf8"));
    expect(perInstance["demo__calc-2"]).toMatchObject({ patch_successfully_applied: true, resolved: true });
    expect(perInstance["demo__calc-pull-1"]).toMatchObject({
      patch_exists: true,
      patch_successfully_applied: false,
      resolved: false,
    });
    const run = JSON.parse(readFileSync(join(dir, "rep/responses.jsonl.0.4.json"), "utf8"));
    expect(run).toMatchObject({
      total_instances: 2,
      completed_instances: 2,
      resolved_instances: 1,
      resolved_ids: ["demo__calc-2"],
      unresolved_ids: ["demo__calc-pull-1"],
      schema_version: 2,
    });
  }, 240_000);

  it("bad input stops before any model is called: unknown repository names file, line and field", async () => {
    const repo = makeRepo({ "calc.py": C0 });
    const data = rows(repo.commit);
    const dir = testdir({
      "exp.yaml": `name: bad\ntask: {name: code-edit, repos: {other/repo: ${repo.dir}}}\ndataset: data.jsonl\nmodels: [gold]\n`,
      "data.jsonl": data,
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/data\.jsonl:1: repo: "demo\/calc" has no local clone in task\.repos/);
    expect(readdirSync(dir)).not.toContain("runs");
  });

  it("export writes EditBench infbench rows for a variant, which read back as a dataset give the same prompts", async () => {
    const repo = makeRepo({ "calc.py": C0, "tests/__init__.py": "", "tests/test_calc.py": T0 });
    const dir = testdir({
      "exp.yaml": `name: ex\ntask: {name: code-edit, repos: {demo/calc: ${repo.dir}}, variants: ["0.4", "None_body_issue"]}\ndataset: data.jsonl\nmodels: [gold]\n`,
      "data.jsonl": rows(repo.commit),
    });
    const r = await runCliAsync(["export", "exp.yaml", "--prompt-set", "0.4", "-o", "infbench.jsonl"], dir);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(join(dir, "infbench.jsonl"));
    expect(out[0]).toMatchObject({ instance_id: "demo__calc-pull-1", split_idx: 1, num_changes: 3 });
    expect(out[0].pre_edits).toHaveLength(1);
    expect(out[0].prompt).toContain("[start of step 1]");
    expect(out[0].ground_truth).toContain("+    return a + b");
    const back = testdir({
      "exp.yaml":
        'name: back\ntask: {name: code-edit, variants: ["0.4"]}\ndataset: infbench.jsonl\nmodels: [gold]\n',
      "infbench.jsonl": out,
    });
    const again = await runCliAsync(["export", "exp.yaml", "-o", "again.jsonl"], back);
    expect(again.code, again.stderr).toBe(0);
    expect(lines(join(back, "again.jsonl")).map((l) => l.prompt)).toEqual(out.map((l) => l.prompt));
  });
});
