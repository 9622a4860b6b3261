import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { qaRows, runCli, testdir } from "./helpers.js";

const config = (extra = "") => `
name: exp
task: qa
dataset: data.jsonl
models: [gold, echo]
prompts:
  plain: {user: "{{question}}"}
  concise: {system: "Be brief.", user: "Q: {{question}}\\nA:"}
scorers: [exact, {name: numeric, tolerance: 0}]
${extra}`;

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("benchline run", () => {
  it("runs every model × prompt set, gold scores 100%, and a rerun changes no byte", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(12) });
    const first = runCli(["run", "exp.yaml", "--log", "plain"], dir);
    expect(first.stderr).toContain("4 trial(s), 12 item(s)");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("report: runs/exp/report.md");

    const trials = readdirSync(join(dir, "runs/exp"))
      .filter((d) => d.includes("__"))
      .sort();
    expect(trials.map((t) => t.replace(/__[0-9a-f]{8}$/, ""))).toEqual([
      "echo__concise",
      "echo__plain",
      "gold__concise",
      "gold__plain",
    ]);
    const gold = trials.find((t) => t.startsWith("gold__plain"))!;
    const summary = JSON.parse(readFileSync(join(dir, "runs/exp", gold, "summary.json"), "utf8"));
    expect(summary).toMatchObject({
      items: 12,
      mean_score: 1,
      errors: { count: 0 },
      per_category: { even: { n: 6, mean: 1 } },
    });
    const echo = JSON.parse(
      readFileSync(
        join(dir, "runs/exp", trials.find((t) => t.startsWith("echo__plain"))!, "summary.json"),
        "utf8",
      ),
    );
    expect(echo.mean_score).toBe(0);
    const preds = lines(join(dir, "runs/exp", gold, "predictions.jsonl"));
    expect(preds).toHaveLength(12);
    expect(preds[0]).toMatchObject({ sample: 0, model: "gold", status: "ok", cached: false, attempts: 1 });
    expect(readFileSync(join(dir, "runs/exp/report.md"), "utf8")).toMatch(/\| \[gold__plain__[0-9a-f]{8}\]/);

    const snapshot = () =>
      Object.fromEntries(
        trials.flatMap((t) =>
          ["prompts", "predictions", "scores", "summary"].map((f) => {
            const path = join(dir, "runs/exp", t, f === "summary" ? "summary.json" : `${f}.jsonl`);
            return [`${t}/${f}`, readFileSync(path, "utf8")];
          }),
        ),
      );
    const before = snapshot();
    const second = runCli(["run", "exp.yaml", "--log", "plain"], dir);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain("row(s) written");
    expect(snapshot()).toEqual(before);
  });

  it("flags override the file: --model adds or selects, --prompt-set selects, --limit and --samples", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(10) });
    const r = runCli(
      [
        "run",
        "exp.yaml",
        "-m",
        "gold",
        "-p",
        "plain",
        "--limit",
        "3",
        "--samples",
        "2",
        "--out",
        "elsewhere",
      ],
      dir,
    );
    expect(r.code).toBe(0);
    const trials = readdirSync(join(dir, "elsewhere/exp")).filter((d) => d.includes("__"));
    expect(trials).toHaveLength(1);
    const preds = lines(join(dir, "elsewhere/exp", trials[0]!, "predictions.jsonl"));
    expect(preds.map((p) => `${p.id}/${p.sample}`).sort()).toEqual([
      "q0/0",
      "q0/1",
      "q1/0",
      "q1/1",
      "q2/0",
      "q2/1",
    ]);

    // A larger limit extends the same trial instead of starting over.
    expect(
      runCli(
        [
          "run",
          "exp.yaml",
          "-m",
          "gold",
          "-p",
          "plain",
          "--limit",
          "5",
          "--samples",
          "2",
          "--out",
          "elsewhere",
        ],
        dir,
      ).code,
    ).toBe(0);
    expect(lines(join(dir, "elsewhere/exp", trials[0]!, "predictions.jsonl"))).toHaveLength(10);

    const unknown = runCli(["run", "exp.yaml", "-p", "nope"], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no prompt set "nope" \(available: plain, concise\)/);
  });

  it("--phase runs one phase at a time", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(4) });
    expect(runCli(["run", "exp.yaml", "-m", "gold", "-p", "plain", "--phase", "prompts"], dir).code).toBe(0);
    const [trial] = readdirSync(join(dir, "runs/exp")).filter((d) => d.includes("__"));
    const tdir = join(dir, "runs/exp", trial!);
    expect(existsSync(join(tdir, "prompts.jsonl"))).toBe(true);
    expect(existsSync(join(tdir, "predictions.jsonl"))).toBe(false);
    expect(lines(join(tdir, "prompts.jsonl"))[0]).toMatchObject({
      id: "q0",
      prompt: "What is 0 plus one?",
      messages: [{ role: "user" }],
      metadata: { category: "even" },
    });

    expect(runCli(["run", "exp.yaml", "-m", "gold", "-p", "plain", "--phase", "inference"], dir).code).toBe(
      0,
    );
    expect(lines(join(tdir, "predictions.jsonl"))).toHaveLength(4);
    expect(existsSync(join(tdir, "scores.jsonl"))).toBe(false);

    expect(runCli(["run", "exp.yaml", "-m", "gold", "-p", "plain", "--phase", "score"], dir).code).toBe(0);
    expect(lines(join(tdir, "scores.jsonl"))).toHaveLength(8);

    const rebuilt = runCli(["report", "runs/exp"], dir);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(/gold__plain__[0-9a-f]{8}: exact 100\.0%, 0 error\(s\)/);
  });

  it("a scorer that throws scores 0 with the reason instead of stopping the run", () => {
    const dir = testdir({
      "exp.yaml": config().replace("scorers: [exact, {name: numeric, tolerance: 0}]", "scorers: [regex]"),
      "data.jsonl": [{ id: "cpp", question: "Best language?", answer: "C++" }],
    });
    const r = runCli(["run", "exp.yaml", "-m", "gold", "-p", "plain"], dir);
    expect(r.code).toBe(0);
    const [trial] = readdirSync(join(dir, "runs/exp")).filter((d) => d.includes("__"));
    const [score] = lines(join(dir, "runs/exp", trial!, "scores.jsonl"));
    expect(score).toMatchObject({
      value: 0,
      passed: false,
      detail: { scorer_error: expect.stringMatching(/Nothing to repeat/) },
    });
  });

  it("--help explains every command", () => {
    const dir = testdir({});
    const top = runCli(["--help"], dir);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/run \[options\] <config>/);
    expect(top.stdout).toMatch(/report \[options\] <experiment-dir>/);
    const run = runCli(["run", "--help"], dir);
    for (const flag of [
      "--model",
      "--prompt-set",
      "--limit",
      "--samples",
      "--phase",
      "--out",
      "--concurrency",
      "--no-retry-errors",
    ]) {
      expect(run.stdout).toContain(flag);
    }
    const bad = runCli(["run", "x.yaml", "--limit", "zero"], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("expected a positive whole number");
  });
});

describe("bad input: exit 2, one line naming the file, nothing written", () => {
  const cases: [string, Record<string, string | unknown[]>, RegExp][] = [
    [
      "malformed YAML",
      { "exp.yaml": "name: exp\ntask: [qa\n", "data.jsonl": qaRows(2) },
      /^benchline: exp\.yaml:\d+:\d+: invalid YAML/,
    ],
    [
      "unknown provider",
      { "exp.yaml": config().replace("[gold, echo]", "[gold, gpt5]"), "data.jsonl": qaRows(2) },
      /^benchline: exp\.yaml: models\[1\]: unknown provider "gpt5"/,
    ],
    [
      "unknown task",
      { "exp.yaml": config().replace("task: qa", "task: trivia"), "data.jsonl": qaRows(2) },
      /^benchline: exp\.yaml: task: unknown task "trivia" \(available: qa/,
    ],
    ["missing dataset", { "exp.yaml": config() }, /^benchline: data\.jsonl: file not found/],
    [
      "a dataset line that is not JSON",
      {
        "exp.yaml": config(),
        "data.jsonl": `${JSON.stringify(qaRows(2)[0])}\n${JSON.stringify(qaRows(2)[1])}\n{oops\n`,
      },
      /^benchline: data\.jsonl:3: not valid JSON/,
    ],
    [
      "a row that does not fit the task",
      { "exp.yaml": config(), "data.jsonl": [{ id: "a", question: "q" }] },
      /^benchline: data\.jsonl:1: answer: expected string or number/,
    ],
    [
      "duplicate ids",
      { "exp.yaml": config(), "data.jsonl": [...qaRows(3), { id: "q1", question: "again", answer: "x" }] },
      /^benchline: data\.jsonl:4: duplicate id "q1" \(first at data\.jsonl:2\)/,
    ],
    [
      "an unknown field",
      { "exp.yaml": `${config()}\ntemperature: 0\n`, "data.jsonl": qaRows(2) },
      /^benchline: exp\.yaml: unknown field "temperature"/,
    ],
    [
      "a placeholder no sample has",
      { "exp.yaml": config().replace('"{{question}}"', '"{{questoin}}"'), "data.jsonl": qaRows(2) },
      /^benchline: exp\.yaml: prompts\.plain\.user: \{\{questoin\}\} has no value in data\.jsonl:1/,
    ],
    ["a missing config file", {}, /^benchline: exp\.yaml: file not found/],
    [
      "a scorer listed twice",
      {
        "exp.yaml": config().replace("scorers: [exact, ", "scorers: [exact, exact, "),
        "data.jsonl": qaRows(2),
      },
      /^benchline: exp\.yaml: scorers\[1\]: "exact" is listed twice/,
    ],
    [
      "a command model that does not exist",
      { "exp.yaml": config().replace("[gold, echo]", "['command:./nope.sh']"), "data.jsonl": qaRows(2) },
      /nope\.sh/,
    ],
  ];
  it.each(cases)("%s", (_name, files, message) => {
    const dir = testdir(files);
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });
});
