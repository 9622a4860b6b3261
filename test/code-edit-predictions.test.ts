import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { C0, calcRows, T0 } from "./code-edit-calc.js";
import { makeRepo } from "./code-edit-repo.js";
import { runCliAsync, testdir } from "./helpers.js";

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

/** The executions of the one trial `execute` made under runs/<name>, and its directory name. */
function trialOf(dir: string, name: string) {
  const exp = join(dir, "runs", name);
  const trials = readdirSync(exp).filter((d) => d.includes("__"));
  expect(trials).toHaveLength(1);
  const trial = trials[0] as string;
  return {
    trial,
    executions: new Map(lines(join(exp, trial, "executions.jsonl")).map((e) => [e.id as string, e])),
    predictions: lines(join(exp, trial, "predictions.jsonl")),
  };
}

function setup() {
  const repo = makeRepo({ "calc.py": C0, "tests/__init__.py": "", "tests/test_calc.py": T0 });
  const data = calcRows(repo.commit, true);
  const config = (name: string) =>
    [
      `name: ${name}`,
      `task: {name: code-edit, repos: {demo/calc: ${repo.dir}}, variants: ["0.4", "None_body_issue"]}`,
      "dataset: data.jsonl",
      "models: [gold]",
      "execution: {timeout: 60}",
      "",
    ].join("\n");
  const dir = testdir({ "data.jsonl": data });
  for (const name of ["swe", "swejson", "eb", "gold", "bad"])
    writeFileSync(join(dir, `${name}.yaml`), config(name));
  return { dir, data, patch: data[1]?.patch as string };
}

describe("code-edit: benchline execute --predictions (other tools' prediction files)", () => {
  it("SWE-bench predictions (.jsonl and a .json list), EditBench results and gold are executed and graded", async () => {
    const { dir, patch } = setup();
    const swe = [
      { instance_id: "demo__calc-2", model_name_or_path: "m", model_patch: patch },
      { instance_id: "demo__calc-pull-1", model_name_or_path: "m", model_patch: null },
    ];
    writeFileSync(join(dir, "swe.jsonl"), `${swe.map((r) => JSON.stringify(r)).join("\n")}\n`);
    writeFileSync(join(dir, "swe.json"), JSON.stringify(swe, null, 2));

    // SWE-bench .jsonl: the patch is applied verbatim (extract_diff would take the <b> tag in it).
    let r = await runCliAsync(
      ["execute", "swe.yaml", "--predictions", "swe.jsonl", "-p", "None_body_issue"],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    let run = trialOf(dir, "swe");
    expect(run.trial).toMatch(/^import-swe\.jsonl__none_body_issue__/);
    expect(run.predictions.find((p) => p.id === "demo__calc-2")).toMatchObject({ model_patch: patch });
    expect(run.executions.get("demo__calc-2")).toMatchObject({
      passed: true,
      applied: true,
      artifact: { method: "model_patch", patch },
    });
    expect(run.executions.get("demo__calc-pull-1")).toMatchObject({
      passed: false,
      artifact: { patch: null },
      report: { "demo__calc-pull-1": { patch_is_None: true, patch_exists: false, resolved: false } },
    });

    // The same predictions as a .json list.
    r = await runCliAsync(
      ["execute", "swejson.yaml", "--predictions", "swe.json", "-p", "None_body_issue"],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    run = trialOf(dir, "swejson");
    expect(run.executions.get("demo__calc-2")).toMatchObject({
      passed: true,
      artifact: { method: "model_patch" },
    });
    expect(run.executions.get("demo__calc-pull-1")?.report["demo__calc-pull-1"].patch_is_None).toBe(true);

    // EditBench results: full_output is the completion, model_patch what is applied; the file name
    // ({dataset}_{run_id}.jsonl) picks the prompt set; a failed row has no answer (--allow-missing).
    const results = join(dir, "experiment_results/m/T=0/n=1");
    const ebFile = join(results, "data_0.4.jsonl");
    const eb = [
      {
        instance_id: "demo__calc-2",
        model_name: "m",
        prompt: "…",
        full_output: `Sure.\n<patch>\n${patch}</patch>`,
        model_patch: patch,
        cost: 0,
        response_time: 1.5,
        status: "success",
        error: null,
      },
      {
        instance_id: "demo__calc-pull-1",
        model_name: "m",
        prompt: "…",
        full_output: null,
        model_patch: null,
        cost: 0,
        response_time: 0,
        status: "failed",
        error: "Max retries",
      },
    ];
    mkdirSync(results, { recursive: true });
    writeFileSync(ebFile, `${eb.map((row) => JSON.stringify(row)).join("\n")}\n`);
    r = await runCliAsync(["execute", "eb.yaml", "--predictions", ebFile, "--allow-missing"], dir);
    expect(r.code, r.stderr).not.toBe(2);
    run = trialOf(dir, "eb");
    expect(run.trial).toMatch(/^import-data_0\.4\.jsonl__0\.4__/);
    expect(run.predictions.find((p) => p.id === "demo__calc-2")).toMatchObject({
      completion: eb[0]?.full_output,
      model_patch: patch,
    });
    expect(run.predictions.find((p) => p.id === "demo__calc-pull-1")).toMatchObject({ status: "error" });
    expect(run.executions.get("demo__calc-2")).toMatchObject({
      passed: true,
      artifact: { method: "model_patch" },
    });
    expect(run.executions.has("demo__calc-pull-1")).toBe(false);

    // gold: the reference patch, verbatim (its fence and tag would fool extract_diff), resolves all.
    r = await runCliAsync(["execute", "gold.yaml", "--predictions", "gold", "-p", "0.4"], dir);
    expect(r.code, r.stderr).toBe(0);
    run = trialOf(dir, "gold");
    expect(run.trial).toMatch(/^gold__0\.4__/);
    for (const e of run.executions.values()) {
      expect(e).toMatchObject({ passed: true, applied: true, artifact: { method: "reference" } });
      expect(e.report[e.id]).toMatchObject({ resolved: true });
    }
    expect(run.executions.size).toBe(2);
  }, 240_000);

  it("a bad predictions file is a one-line error naming the file and entry, before anything is written", async () => {
    const { dir } = setup();
    writeFileSync(join(dir, "obj.json"), JSON.stringify("not a list"));
    let r = await runCliAsync(["execute", "bad.yaml", "--predictions", "obj.json"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/obj\.json: expected a JSON list of predictions/);
    writeFileSync(
      join(dir, "entry.json"),
      JSON.stringify([
        { instance_id: "demo__calc-2", model_patch: "" },
        { instance_id: "demo__calc-pull-1" },
      ]),
    );
    r = await runCliAsync(["execute", "bad.yaml", "--predictions", "entry.json"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/entry\.json:\[1\]: .*model_patch/);
    writeFileSync(join(dir, "torn.json"), '[{"instance_id": "demo__calc-2", "model_patch": ""}');
    r = await runCliAsync(["execute", "bad.yaml", "--predictions", "torn.json"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/torn\.json: not valid JSON/);
    expect(readdirSync(dir)).not.toContain("runs");
  }, 60_000);
});
