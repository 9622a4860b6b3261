import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { qaRows, runCli, spawnCli, testdir } from "./helpers.js";

const config = (extra = "") => `
name: sweep
task: qa
dataset: data.jsonl
models: [gold, echo]
prompts:
  a: {user: "{{question}}"}
  b: {user: "Q: {{question}}"}
scorers: [exact]
${extra}`;

const trialDirs = (exp: string) =>
  readdirSync(exp)
    .filter((d) => d.includes("__"))
    .sort();
const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const json = (path: string) => JSON.parse(readFileSync(path, "utf8"));

describe("sweeps", () => {
  it("runs trials in parallel, each doing its own work in its own folder (regression: later trials must not find the first trial's results folder and skip)", () => {
    const dir = testdir({ "exp.yaml": config("trial_concurrency: 4"), "data.jsonl": qaRows(25) });
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const exp = join(dir, "runs/sweep");
    const trials = trialDirs(exp);
    expect(trials).toHaveLength(4);
    for (const t of trials) {
      const preds = jsonl(join(exp, t, "predictions.jsonl"));
      const spec = json(join(exp, t, "trial.json")).spec;
      expect(preds).toHaveLength(25);
      expect(new Set(preds.map((p) => p.model))).toEqual(new Set([spec.model.id]));
      const prompts = jsonl(join(exp, t, "prompts.jsonl"));
      expect(prompts[0].prompt).toBe(
        spec.prompt_set.name === "a" ? "What is 0 plus one?" : "Q: What is 0 plus one?",
      );
    }
  });

  it("writes the experiment outputs: comparison/significance, costs, CSVs, CIs and pass@k", () => {
    const dir = testdir({
      "exp.yaml": config("samples: 3\nstats: {iterations: 2000, seed: 7, comparisons: all}"),
      "data.jsonl": qaRows(10),
    });
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const exp = join(dir, "runs/sweep");
    const comparison = json(join(exp, "comparison.json"));
    expect(comparison).toEqual(json(join(exp, "significance.json")));
    expect(comparison.comparisons).toHaveLength(6); // 4 trials → 6 pairs
    const goldVsEcho = comparison.comparisons.find(
      (c: { trial_a: string; trial_b: string }) =>
        c.trial_a.startsWith("gold__a") && c.trial_b.startsWith("echo__a"),
    );
    expect(goldVsEcho).toMatchObject({
      n_shared: 10,
      mean_a: 1,
      mean_b: 0,
      diff: -1,
      test: "mcnemar",
      b10: 10,
      b01: 0,
      significant: true,
    });
    expect(goldVsEcho.p_value).toBeCloseTo(2 / 1024, 10);

    const gold = json(join(exp, trialDirs(exp).find((t) => t.startsWith("gold__a"))!, "summary.json"));
    expect(gold.mean_ci).toMatchObject({ low: 1, high: 1, iterations: 2000, n_items: 10 });
    expect(gold.pass_at_k.map((r: { k: number }) => r.k)).toEqual([1, 2, 3]);
    expect(json(join(exp, "costs.json"))).toMatchObject({ currency: "USD", total_usd: 0 });
    const predCsv = readFileSync(join(exp, "predictions.csv"), "utf8").trim().split("\n");
    expect(predCsv).toHaveLength(1 + 4 * 10 * 3);
    expect(predCsv[0]).toMatch(/^trial,model,prompt_set,id,sample,status,completion/);
    const scoreCsv = readFileSync(join(exp, "per_item_scores.csv"), "utf8").trim().split("\n");
    expect(scoreCsv).toHaveLength(1 + 4 * 10 * 3);
    const report = readFileSync(join(exp, "report.md"), "utf8");
    expect(report).toContain("## pass@k");
    expect(report).toContain("## Significant differences");
    expect(report).toMatch(/100\.0% \[100\.0%, 100\.0%\]/);
  });

  it("--parts K --part i shards the dataset disjointly into one experiment directory, even side by side", async () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(30) });
    const run = (part: number) =>
      new Promise<number | null>((resolve) =>
        spawnCli(
          [
            "run",
            "exp.yaml",
            "-m",
            "gold",
            "-p",
            "a",
            "--parts",
            "3",
            "--part",
            String(part),
            "--log",
            "plain",
          ],
          dir,
        ).on("exit", resolve),
      );
    expect(await Promise.all([run(1), run(2), run(3)])).toEqual([0, 0, 0]);
    const exp = join(dir, "runs/sweep");
    const [trial] = trialDirs(exp);
    const preds = jsonl(join(exp, trial!, "predictions.jsonl"));
    expect(preds).toHaveLength(30);
    expect(new Set(preds.map((p) => p.id)).size).toBe(30);
    const report = runCli(["report", "runs/sweep"], dir);
    expect(report.stdout).toMatch(/gold__a__[0-9a-f]{8}: exact 100\.0%, 0 error\(s\)/);
    expect(json(join(exp, trial!, "summary.json")).items).toBe(30);

    const bad = runCli(["run", "exp.yaml", "--parts", "3", "--part", "4"], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--part must be between 1 and --parts (3)");
  });

  it("merge combines shards run into separate directories; compare works across experiments", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(12) });
    for (const part of [1, 2]) {
      expect(
        runCli(
          [
            "run",
            "exp.yaml",
            "-m",
            "gold",
            "-m",
            "echo",
            "-p",
            "a",
            "--parts",
            "2",
            "--part",
            String(part),
            "--out",
            `machine${part}`,
          ],
          dir,
        ).code,
      ).toBe(0);
    }
    const merged = runCli(["merge", "machine1/sweep", "machine2/sweep", "--into", "all/sweep"], dir);
    expect(merged.code).toBe(0);
    expect(merged.stdout).toContain("appended 24 prompts, 24 predictions");
    const exp = join(dir, "all/sweep");
    for (const t of trialDirs(exp)) expect(jsonl(join(exp, t, "predictions.jsonl"))).toHaveLength(12);
    // Merging again adds nothing.
    expect(
      runCli(["merge", "machine1/sweep", "machine2/sweep", "--into", "all/sweep"], dir).stdout,
    ).toContain("appended 0 prompts, 0 predictions");

    const [echo, gold] = trialDirs(exp);
    expect(runCli(["run", "exp.yaml", "-m", "gold", "-p", "b", "--out", "other"], dir).code).toBe(0);
    const [otherGold] = trialDirs(join(dir, "other/sweep"));
    const cmp = runCli(
      [
        "compare",
        join("all/sweep", gold!),
        join("all/sweep", echo!),
        join("other/sweep", otherGold!),
        "--json",
        "--all-pairs",
      ],
      dir,
    );
    expect(cmp.code).toBe(0);
    const out = JSON.parse(cmp.stdout);
    expect(out.comparisons).toHaveLength(3);
    const ge = out.comparisons.find(
      (c: { trial_a: string; trial_b: string }) => c.trial_a === gold && c.trial_b === echo,
    );
    expect(ge).toMatchObject({ n_shared: 12, diff: -1, test: "mcnemar", significant: true });
    const text = runCli(["compare", join("all/sweep", gold!), join("other/sweep", otherGold!)], dir);
    expect(text.stdout).toMatch(/\| B \| A \| shared/);
    expect(text.stdout).toMatch(/\| no \|/);
  });

  it("merge combines per-repository runs of one trial (different dataset files) into one trial", () => {
    const dir = testdir({
      "repo-a.yaml": config().replace("name: sweep", "name: repo-a").replace("data.jsonl", "a.jsonl"),
      "repo-b.yaml": config().replace("name: sweep", "name: repo-b").replace("data.jsonl", "b.jsonl"),
      "a.jsonl": qaRows(4, "a"),
      "b.jsonl": qaRows(3, "b"),
    });
    for (const repo of ["a", "b"])
      expect(runCli(["run", `repo-${repo}.yaml`, "-m", "gold", "-p", "a"], dir).code).toBe(0);
    const r = runCli(["merge", "runs/repo-a", "runs/repo-b", "--into", "runs/all"], dir);
    expect(r.code).toBe(0);
    // Different datasets are merged (the per-repository workflow), but never silently.
    expect(r.stderr).toMatch(/warning: merging experiments over 2 different datasets: .*a\.jsonl.*b\.jsonl/);
    const exp = join(dir, "runs/all");
    expect(json(join(exp, "experiment.json")).merged_datasets).toHaveLength(2);
    const trials = trialDirs(exp);
    expect(trials).toHaveLength(1);
    expect(
      jsonl(join(exp, trials[0]!, "predictions.jsonl"))
        .map((p) => p.id)
        .sort(),
    ).toEqual(["a0", "a1", "a2", "a3", "b0", "b1", "b2"]);
    expect(json(join(exp, trials[0]!, "trial.json")).merged_from).toHaveLength(1);
    expect(json(join(exp, trials[0]!, "summary.json"))).toMatchObject({ items: 7, mean_score: 1 });
  });

  it("reports cover the first --limit items of the dataset even after shards wrote prompts out of order", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(6) });
    expect(
      runCli(["run", "exp.yaml", "-m", "gold", "-p", "a", "--parts", "2", "--part", "2"], dir).code,
    ).toBe(0); // q1 q3 q5
    expect(runCli(["run", "exp.yaml", "-m", "gold", "-p", "a", "--limit", "2"], dir).code).toBe(0); // adds q0
    const exp = join(dir, "runs/sweep");
    const [trial] = trialDirs(exp);
    expect(json(join(exp, trial!, "summary.json")).items).toBe(2);
    const csv = readFileSync(join(exp, "predictions.csv"), "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(",")[3])
      .sort();
    expect(csv).toEqual(["q0", "q1"]);
  });

  it("defect 8 (merge): refuses experiments with different scorers, warns about different datasets, quiet for shards", () => {
    const dir = testdir({
      "a.yaml": config().replace("name: sweep", "name: ea"),
      "b.yaml": config()
        .replace("name: sweep", "name: eb")
        .replace("scorers: [exact]", "scorers: [includes]"),
      "c.yaml": config().replace("name: sweep", "name: ec").replace("data.jsonl", "c.jsonl"),
      "data.jsonl": qaRows(3),
      "c.jsonl": qaRows(3, "c"),
    });
    for (const f of ["a", "b", "c"]) expect(runCli(["run", `${f}.yaml`, "-m", "gold"], dir).code).toBe(0);
    const refused = runCli(["merge", "runs/ea", "runs/eb", "--into", "runs/ab"], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /runs\/eb: scorers \[includes\] differ from runs\/ea \(\[exact\]\); not merged/,
    );
    expect(readdirSync(join(dir, "runs"))).not.toContain("ab"); // nothing written
    // An existing destination is checked too.
    const intoB = runCli(["merge", "runs/ea", "--into", "runs/eb"], dir);
    expect(intoB.code).toBe(2);
    expect(intoB.stderr).toContain("scorers");

    const warned = runCli(["merge", "runs/ea", "runs/ec", "--into", "runs/ac"], dir);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/warning: merging experiments over 2 different datasets/);
    // Two shards of one dataset: no warning.
    const same = runCli(["merge", "runs/ea", "runs/ea", "--into", "runs/aa"], dir);
    expect(same.code).toBe(0);
    expect(same.stderr).not.toContain("warning");
  });

  it("merge refuses to combine trials whose specs differ beyond the dataset", () => {
    const dir = testdir({
      "a.yaml": config()
        .replace("name: sweep", "name: ra")
        .replace("models: [gold, echo]", "models: [{id: m, provider: echo, context_length: 1000}]"),
      "b.yaml": config()
        .replace("name: sweep", "name: rb")
        .replace("models: [gold, echo]", "models: [{id: m, provider: echo, context_length: 2000}]")
        .replace("data.jsonl", "b.jsonl"),
      "data.jsonl": qaRows(2),
      "b.jsonl": qaRows(2, "b"),
    });
    expect(runCli(["run", "a.yaml", "-p", "a"], dir).code).toBe(0);
    expect(runCli(["run", "b.yaml", "-p", "a"], dir).code).toBe(0);
    const r = runCli(["merge", "runs/ra", "runs/rb", "--into", "runs/all"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/same model and prompt set .* but a different spec/);
  });
});
