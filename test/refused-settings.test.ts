import { chmodSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { qaRows, runCli, testdir } from "./helpers.js";

/**
 * Issue 8 ("a setting is honoured or rejected with a clear error — never accepted and ignored"),
 * the same class of defect found elsewhere: settings and flags that the run has nothing to apply
 * to are refused before anything is written or paid for.
 */
const shellRows = [
  {
    id: "s1",
    category: "files",
    task: "make a file",
    setup_commands: [],
    success_condition: "test -f out",
    reference: "touch out",
  },
];
const qa = (extra = "") =>
  `name: refused\ntask: qa\ndataset: data.jsonl\nmodels: [gold]\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\n${extra}`;
const shell = (execution: string) =>
  `name: refused\ntask: shell\ndataset: shell.jsonl\nmodels: [gold]\nscorers: [exec]\nexecution: ${execution}\n`;

function refused(args: string[], files: Record<string, string | unknown[]>, message: RegExp): void {
  const dir = testdir({ "data.jsonl": qaRows(2), "shell.jsonl": shellRows, ...files });
  const r = runCli(args, dir);
  expect(r.stderr).toMatch(message);
  expect(r.code, r.stderr).toBe(2);
  // Refused before anything was written.
  expect(existsSync(join(dir, "runs")), "nothing written").toBe(false);
}

describe("settings a run cannot honour are refused up front (issue 8 class)", () => {
  it("an execution: block or --sandbox on a task that executes nothing", () => {
    refused(
      ["run", "exp.yaml"],
      { "exp.yaml": qa("execution: {timeout: 5}\n") },
      /exp\.yaml: execution: task "qa" executes nothing/,
    );
    refused(
      ["run", "exp.yaml", "--sandbox", "local"],
      { "exp.yaml": qa() },
      /--sandbox: task "qa" executes nothing/,
    );
  });

  it("a scorer of executions (exec, applied) on a task that executes nothing", () => {
    refused(
      ["run", "exp.yaml"],
      { "exp.yaml": qa().replace("scorers: [exact]", "scorers: [exact, exec]") },
      /exp\.yaml: scorers\[1\]: "exec" scores an execution, and task "qa" executes nothing/,
    );
  });

  it("disk_mb, image and docker_host under a sandbox that cannot honour them: a config error before inference", () => {
    refused(
      ["run", "exp.yaml"],
      { "exp.yaml": shell("{sandbox: local, disk_mb: 64}") },
      /execution\.disk_mb: sandbox: local cannot cap disk use/,
    );
    refused(
      ["run", "exp.yaml"],
      { "exp.yaml": shell("{sandbox: local, image: debian:12}") },
      /execution\.image: only the docker sandbox uses it/,
    );
    refused(
      ["run", "exp.yaml", "--sandbox", "local"],
      { "exp.yaml": shell("{sandbox: docker, image: debian:12, docker_host: unix:///tmp/none.sock}") },
      /execution\.image: only the docker sandbox uses it, and this run uses --sandbox local/,
    );
    // What the local sandbox can honour still runs.
    const dir = testdir({ "shell.jsonl": shellRows, "exp.yaml": shell("{sandbox: local, timeout: 10}") });
    const ok = runCli(["run", "exp.yaml"], dir);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("request flags on a run whose models send no requests (gold, import), and --allow-missing without an import model", () => {
    refused(
      ["run", "exp.yaml", "--timeout", "5"],
      { "exp.yaml": qa() },
      /--timeout: no model of this run takes a request timeout \(gold: gold\)/,
    );
    refused(
      ["run", "exp.yaml", "-c", "4", "--no-cache"],
      { "exp.yaml": qa() },
      /--concurrency, --no-cache: no model of this run sends requests \(gold\)/,
    );
    refused(
      ["run", "exp.yaml", "--max-cost", "1"],
      { "exp.yaml": qa() },
      /--max-cost: no model of this run sends requests/,
    );
    refused(
      ["run", "exp.yaml", "--allow-missing"],
      { "exp.yaml": qa() },
      /--allow-missing: no import model in this run/,
    );
    const responses = qaRows(2).map((r) => ({ id: r.id, completion: r.answer }));
    refused(
      ["import", "exp.yaml", "--responses", "responses.jsonl", "--timeout", "5"],
      { "exp.yaml": qa(), "responses.jsonl": responses },
      /--timeout: no model of this run takes a request timeout/,
    );
    refused(
      ["execute", "exp.yaml", "--predictions", "gold", "--max-cost", "3", "--no-cache"],
      { "exp.yaml": shell("{sandbox: local}") },
      /--max-cost, --no-cache: no model of this run sends requests \(gold\)/,
    );
  });

  it("--retry-failed and --phase execution on a task that executes nothing", () => {
    refused(
      ["run", "exp.yaml", "--retry-failed"],
      { "exp.yaml": qa() },
      /--retry-failed: task "qa" executes nothing/,
    );
    refused(
      ["run", "exp.yaml", "--phase", "execution"],
      { "exp.yaml": qa() },
      /--phase execution: task "qa" executes nothing/,
    );
  });
});

describe("command models with a seed (issue 8 defect 6, same class)", () => {
  it("each sample runs alone with seed + sample index: samples differ, and extending --samples asks for new seeds", () => {
    const dir = testdir({
      "data.jsonl": qaRows(2),
      "model.sh": `#!/bin/sh\nread -r line\nseed=$(printf '%s' "$line" | sed -n 's/.*"seed":\\([0-9]*\\).*/\\1/p')\nn=$(printf '%s' "$line" | sed -n 's/.*"n":\\([0-9]*\\).*/\\1/p')\necho "seed $seed n $n" >> calls.log\necho "answer-$seed"\n`,
      "exp.yaml": `name: seeded\ntask: qa\ndataset: data.jsonl\nmodels:\n  - {id: prog, provider: command, model: ./model.sh, seed: 7}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\n`,
    });
    chmodSync(join(dir, "model.sh"), 0o755);
    const first = runCli(["run", "exp.yaml", "--samples", "3"], dir);
    expect(first.code, first.stderr).toBe(0);
    const exp = join(dir, "runs", "seeded");
    const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
    const rows = () =>
      readFileSync(join(exp, trial!, "predictions.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: string; sample: number; completion: string });
    for (const row of rows()) expect(row.completion.trim()).toBe(`answer-${7 + row.sample}`);
    const more = runCli(["run", "exp.yaml", "--samples", "5"], dir);
    expect(more.code, more.stderr).toBe(0);
    const all = rows();
    expect(all).toHaveLength(10);
    for (const row of all) expect(row.completion.trim()).toBe(`answer-${7 + row.sample}`);
    // Every run asked for one sample.
    const calls = readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n");
    expect(calls).toHaveLength(10);
    expect(calls.every((c) => c.endsWith(" n 1"))).toBe(true);
  });
});

describe("harness reports of another task's trial (same class)", () => {
  it("convert --to cvdp-report / swebench-report on a qa trial is refused, not an empty report with exit 0", () => {
    const dir = testdir({ "data.jsonl": qaRows(2), "exp.yaml": qa() });
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const exp = join(dir, "runs", "refused");
    const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
    for (const format of ["cvdp-report", "swebench-report"]) {
      const r = runCli(["convert", join(exp, trial!), "--to", format, "--out", "out"], dir);
      expect(r.stderr).toMatch(
        new RegExp(`--to ${format} needs a (cvdp|code-edit) trial; this trial's task is "qa"`),
      );
      expect(r.code).toBe(2);
      expect(existsSync(join(dir, "out"))).toBe(false);
    }
  });
});

describe("errors found when providers are created name the file and the entry (issue 8 defect 5, same class)", () => {
  it("an unknown task, a guided model without a token budget, a key variable that is not set", () => {
    refused(
      ["run", "exp.yaml"],
      { "exp.yaml": qa().replace("task: qa", "task: nope") },
      /exp\.yaml: task: unknown task "nope"/,
    );
    const guided = `  - {id: g, provider: guided, base: {provider: vllm, model: b, base_url: "http://127.0.0.1:9/v1"}, oracle: {provider: vllm, model: o, base_url: "http://127.0.0.1:9/v1"}, c: 1, k: 2, step_size: 2}\n`;
    refused(
      ["run", "exp.yaml"],
      { "exp.yaml": qa().replace("models: [gold]", `models:\n  - gold\n${guided}`) },
      /exp\.yaml: models\[1\] \("g"\): guided needs max_new_tokens/,
    );
    refused(
      ["run", "exp.yaml"],
      {
        "exp.yaml": qa().replace(
          "models: [gold]",
          "models:\n  - {id: m, provider: openai, model: gpt-4o-mini, api_key_env: BENCHLINE_TEST_UNSET_KEY}",
        ),
      },
      /exp\.yaml: models\[0\] \("m"\): environment variable BENCHLINE_TEST_UNSET_KEY \(API key\) is not set/,
    );
  });
});
