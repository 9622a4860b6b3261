import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isBwrapUsable } from "../src/sandbox/bwrap.js";
import { counterAnswers, dataset, records, simulatorPresent } from "./cvdp-fixtures.js";
import { ROOT, runCli, testdir } from "./helpers.js";

const runnable = isBwrapUsable() && simulatorPresent();
if (!runnable)
  console.warn(
    "skipping cvdp harness tests: needs bwrap, iverilog and cocotb (scripts/install-test-deps.sh)",
  );

const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

const config = (extra = "") =>
  `name: hw\ntask: {name: cvdp, seed: 5}\ndataset: data.jsonl\nmodels: [gold]\nexecution: {sandbox: bwrap, timeout: 120, concurrency: 2}\n${extra}`;

function trialDir(dir: string, name = "hw"): string {
  const exp = join(dir, "runs", name);
  const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
  return join(exp, trial as string);
}

describe("cvdp records", () => {
  it.each([
    [{ ...records.counter, input: { context: {} } }, /data\.jsonl:1: input\.prompt/],
    [{ ...records.counter, output: { response: "", context: "rtl/x.sv" } }, /data\.jsonl:1: output\.context/],
    [
      { ...records.counter, categories: ["cid099", "easy"] },
      /data\.jsonl:1: categories\[0\]: unknown category "cid099"/,
    ],
    [
      { ...records.counter, categories: ["cid003", "trivial"] },
      /data\.jsonl:1: categories\[1\]: unknown difficulty/,
    ],
  ])(
    "a malformed record is an error naming file, line and field before anything runs (%#)",
    (bad, message) => {
      const dir = testdir({ "exp.yaml": config(), "data.jsonl": [bad, records.mux] });
      const r = runCli(["run", "exp.yaml"], dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(existsSync(join(dir, "runs"))).toBe(false);
    },
  );

  it("export writes {id, prompt, system, user}; the prompt is system + blank line + user; JSON mode for several files", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": dataset() });
    const r = runCli(["export", "exp.yaml", "-o", "prompts.jsonl"], dir);
    expect(r.code).toBe(0);
    const lines = jsonl(join(dir, "prompts.jsonl"));
    expect(lines).toHaveLength(7);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(["id", "prompt", "system", "user"]);
      expect(line.prompt).toBe(`${line.system}\n\n${line.user}`);
    }
    const byId = new Map(lines.map((l) => [l.id, l]));
    const counter = byId.get(records.counter.id);
    expect(counter.user).toContain("Your response will be saved directly to: rtl/counter4.sv.");
    expect(counter.system).not.toContain("JSON");
    const adder = byId.get(records.adder.id);
    expect(adder.user).toContain("Name the files as: ['rtl/half_adder.sv', 'rtl/full_adder.sv'].");
    expect(adder.user.indexOf("file rtl/half_adder.sv")).toBeLessThan(
      adder.user.indexOf("file rtl/full_adder.sv"),
    );
    expect(adder.system).toContain('{ "code": [{ "<name>" : "<code>"}] }\nor\n{ "response": "<response>" }');
    expect(byId.get(records.question.id).user).toContain('{ "response": "<your answer here>" }');
    // agentic: the patch's file is the answer (force-copilot), the system message is CVDP's copilot one
    const agentic = byId.get(records.agentic.id);
    expect(agentic.system).toContain("'RTL Debugging and Bug Fixing'");
    expect(agentic.user).toContain("saved directly to: rtl/and2.sv.");
  });
});

describe("cvdp options", () => {
  it("an image placeholder that bwrap would not use is refused before anything runs, naming the field", () => {
    const dir = testdir({
      "exp.yaml": config().replace("seed: 5}", "seed: 5, images: {__OSS_SIM_IMAGE__: sim}}"),
      "data.jsonl": [records.mux],
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/task.*images.*__OSS_SIM_IMAGE__|__OSS_SIM_IMAGE__.*images/);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });
});

describe("cvdp sandboxes", () => {
  it("the local sandbox (no isolation) cannot bind /code and says so on every row; nothing counts as run", () => {
    const dir = testdir({
      "exp.yaml": "name: hw\ntask: cvdp\ndataset: data.jsonl\nmodels: [gold]\nexecution: {sandbox: local}\n",
      "data.jsonl": [records.mux],
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("the local sandbox cannot bind directories (binds); use bwrap or docker");
    const [e] = jsonl(join(trialDir(dir), "executions.jsonl"));
    expect(e).toMatchObject({ status: "error", passed: false });
  });
});

describe.skipIf(!runnable)("cvdp harness (bwrap, iverilog, cocotb)", () => {
  it("execution.disk_mb is refused under bwrap (only docker enforces it): a config error before anything runs", () => {
    const dir = testdir({
      "exp.yaml": config().replace("concurrency: 2}", "concurrency: 2, disk_mb: 64}"),
      "data.jsonl": [records.mux],
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /exp\.yaml: execution\.disk_mb: .*bwrap.* cannot cap disk use; use sandbox: docker/,
    );
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("a build: Dockerfile with RUN steps is skipped with a reason naming the record (never run in the bare FROM image)", () => {
    const built = structuredClone(records.mux) as typeof records.mux;
    built.id = "cvdp_copilot_mux_0009";
    built.harness.files.Dockerfile = "FROM __OSS_SIM_IMAGE__\nRUN pip3 install \\\n  cocotb\nENV X=1\n";
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": [built, records.mux] });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    const executions = new Map(jsonl(join(trialDir(dir), "executions.jsonl")).map((e) => [e.id, e]));
    expect(executions.get(built.id)).toMatchObject({
      passed: false,
      skipped: `${built.id}: service sim's Dockerfile has RUN, ENV steps, which benchline does not build (no registry access); skipped rather than run in the bare FROM image`,
      steps: [],
    });
    expect(executions.get(records.mux.id).passed).toBe(true);
    const scores = new Map(jsonl(join(trialDir(dir), "scores.jsonl")).map((s) => [s.id, s]));
    expect(scores.get(built.id).detail).toMatchObject({ status: "skipped", dropped: true });
  });

  it("defects (CVDP: unseeded harness randomness; comprehension scored 0 without a judge): gold passes cocotb and iverilog harnesses with COCOTB_RANDOM_SEED set and recorded, BLEU of the reference is 1, commercial skipped and no-judge unavailable are left out", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": dataset() });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(0);
    const trial = trialDir(dir);
    const executions = new Map(jsonl(join(trial, "executions.jsonl")).map((e) => [e.id, e]));
    for (const rec of [records.counter, records.mux, records.adder, records.agentic]) {
      const e = executions.get(rec.id);
      expect(e.passed, `${rec.id}: ${e.failure_reason}`).toBe(true);
      expect(e.cocotb_random_seed).toBe(5);
    }
    expect(executions.get(records.counter.id).steps[0].stdout).toContain("COCOTB_RANDOM_SEED=5");
    expect(executions.get(records.commercial.id)).toMatchObject({
      passed: false,
      skipped: expect.stringContaining("__VERIF_EDA_IMAGE__"),
    });
    expect(executions.get(records.commercial.id).steps).toEqual([]);
    const scores = new Map(jsonl(join(trial, "scores.jsonl")).map((s) => [s.id, s]));
    expect(scores.get(records.correspondence.id)).toMatchObject({
      value: 1,
      passed: true,
      detail: { bleu_2: 1, rouge_2: 1 },
    });
    expect(scores.get(records.question.id).detail).toMatchObject({ status: "unavailable", dropped: true });
    expect(scores.get(records.commercial.id).detail).toMatchObject({ status: "skipped", dropped: true });
    const summary = JSON.parse(readFileSync(join(trial, "summary.json"), "utf8"));
    expect(summary.scorers.cvdp).toMatchObject({ n: 5, mean: 1 });
    // left-out problems are not failures in pass@k either
    expect(summary.pass_at_k[0]).toMatchObject({ k: 1, pass_at_k: 1, n_items: 5 });
    const c = runCli(["convert", trial, "--to", "cvdp-report", "--out", "cvdp-out"], dir);
    expect(c.code).toBe(0);
    const cvdp = JSON.parse(readFileSync(join(dir, "cvdp-out", "cvdp-summary.json"), "utf8"));
    expect(cvdp.left_out.map((l: { id: string; status: string }) => [l.id, l.status])).toEqual(
      expect.arrayContaining([
        [records.question.id, "unavailable"],
        [records.commercial.id, "skipped"],
      ]),
    );
    expect(cvdp.left_out).toHaveLength(2);
    expect(cvdp.pass_at_k[0]).toMatchObject({ k: 1, unbiased: 1, n_problems: 5 });
    const report = JSON.parse(readFileSync(join(dir, "cvdp-out", "report.json"), "utf8"));
    expect(report.cid008.easy).toMatchObject({ "Passed Tests": 2, "Total Tests": 2, "Passed Problems": 1 });
    expect(report).not.toHaveProperty("cid012");
    expect(report).not.toHaveProperty("cid009");
    expect(summary.per_category).toMatchObject({
      "cid003/easy": { n: 1, mean: 1 },
      "cid004/hard": { n: 1, mean: 1 },
    });
  }, 240_000);

  it("defect (CVDP: every sample got the first completion): sample n uses line n; golden (fenced or raw) pass, wrong design, syntax error, wrong module name fail; pass@k unbiased beside CVDP's biased formula", () => {
    const cases = Object.entries(counterAnswers);
    const dir = testdir({
      "exp.yaml": config(),
      "data.jsonl": [records.counter],
      "responses.jsonl": cases.map(([, completion]) => ({ id: records.counter.id, completion })),
    });
    const r = runCli(
      ["import", "exp.yaml", "--responses", "responses.jsonl", "--samples", String(cases.length)],
      dir,
    );
    expect(r.code).toBe(0);
    const trial = trialDir(dir);
    const executions = jsonl(join(trial, "executions.jsonl"));
    const passed = Object.fromEntries(
      cases.map(([name], i) => [name, executions.find((e) => e.sample === i)?.passed]),
    );
    expect(passed).toEqual({
      golden: true,
      fenced: true,
      countsByTwo: false,
      syntaxError: false,
      wrongModule: false,
    });
    const syntax = executions.find((e) => e.sample === 3);
    expect(`${syntax.steps[0].stdout}${syntax.steps[0].stderr}`).toMatch(/syntax error/i);
    const summary = JSON.parse(readFileSync(join(trial, "summary.json"), "utf8"));
    expect(summary.pass_at_k.find((p: { k: number }) => p.k === 1).pass_at_k).toBeCloseTo(0.4);

    // CVDP's report shapes: report.json of sample 0, the table and both pass@k formulas, labelled
    const c = runCli(["convert", trial, "--to", "cvdp-report"], dir);
    expect(c.code).toBe(0);
    const report = JSON.parse(readFileSync(join(trial, "cvdp", "report.json"), "utf8"));
    expect(report.cid003.easy).toMatchObject({
      "Passed Problems": 1,
      "Total Problems": 1,
      "Passed Tests": 1,
      "Total Tests": 1,
    });
    expect(report.cid003.medium["Total Problems"]).toBe(0);
    expect(Object.keys(report)).toEqual(["cid003", "metadata", "test_details", "left_out"]);
    const cvdp = JSON.parse(readFileSync(join(trial, "cvdp", "cvdp-summary.json"), "utf8"));
    expect(cvdp.table).toEqual([
      { category: "cid003", difficulty: "easy", problems: 5, passed_problems: 2, tests: 5, passed_tests: 2 },
    ]);
    const k5 = cvdp.pass_at_k.find((p: { k: number }) => p.k === 5);
    expect(k5.unbiased).toBe(1);
    expect(k5.cvdp_formula_biased).toBeCloseTo(1 - 0.6 ** 5, 10);
    const md = readFileSync(join(trial, "cvdp", "cvdp-report.md"), "utf8");
    expect(md).toContain("| cid003 | easy | 2/5 | 2/5 |");
    expect(md).toContain("CVDP formula 1-(1-c/n)^k (biased, for comparison)");
    // Several samples: CVDP's run_samples layout, sample_<n>/report.json and composite_report.json.
    const composite = JSON.parse(readFileSync(join(trial, "cvdp", "composite_report.json"), "utf8"));
    expect(composite.metadata).toMatchObject({
      n_samples: 5,
      k_threshold: 1,
      composite: true,
      sample_prefixes: [1, 2, 3, 4, 5].map((n) => join(trial, "cvdp", `sample_${n}`)),
    });
    expect(composite.samples.map((s: { sample_index: number }) => s.sample_index)).toEqual([0, 1, 2, 3, 4]);
    const passedBySample = composite.samples.map(
      (s: { cid003: { easy: { "Passed Problems": number } } }) => s.cid003.easy["Passed Problems"],
    );
    expect(passedBySample).toEqual(
      [0, 1, 2, 3, 4].map((n) => (executions.find((e) => e.sample === n).passed ? 1 : 0)),
    );
    expect(passedBySample.reduce((a: number, b: number) => a + b, 0)).toBe(2);
    const { sample_index: _, ...first } = composite.samples[0];
    expect(first).toEqual(report);
    expect(JSON.parse(readFileSync(join(trial, "cvdp", "sample_3", "report.json"), "utf8"))).toEqual({
      ...composite.samples[2],
      sample_index: undefined,
    });
  }, 240_000);

  it("defect (CVDP: a missing completion failed silently): an id without a completion, or too few lines for --samples, is an error before anything runs", () => {
    const dir = testdir({
      "exp.yaml": config(),
      "data.jsonl": [records.counter, records.mux],
      "responses.jsonl": [{ id: records.counter.id, completion: counterAnswers.golden }],
    });
    const r = runCli(["import", "exp.yaml", "--responses", "responses.jsonl"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(records.mux.id);
    expect(existsSync(join(dir, "runs"))).toBe(false);
    const one = testdir({
      "exp.yaml": config(),
      "data.jsonl": [records.counter],
      "responses.jsonl": [{ id: records.counter.id, completion: counterAnswers.golden }],
    });
    const two = runCli(["import", "exp.yaml", "--responses", "responses.jsonl", "--samples", "2"], one);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/needs 2 completion\(s\) \(samples: 2\), got 1/);
    expect(existsSync(join(one, "runs"))).toBe(false);
  });

  it("defect (CVDP: the model could name any path, e.g. conftest.py): paths the record does not expect are recorded as ignored and never written", () => {
    const { "rtl/half_adder.sv": half, "rtl/full_adder.sv": full } = records.adder.output.context;
    const answer = JSON.stringify({
      code: [
        { "rtl/half_adder.sv": half },
        { "rtl/full_adder.sv": `\`\`\`verilog\n${full}\`\`\`` },
        { "rtl/extra.sv": "module extra; endmodule\n" },
        { "rundir/conftest.py": "import pytest\n" },
      ],
    });
    const dir = testdir({
      "exp.yaml": config(),
      "data.jsonl": [records.adder],
      "responses.jsonl": [{ id: records.adder.id, completion: `Here you go:\n${answer}\n` }],
    });
    const r = runCli(["import", "exp.yaml", "--responses", "responses.jsonl"], dir);
    expect(r.code).toBe(0);
    const [e] = jsonl(join(trialDir(dir), "executions.jsonl"));
    // The harness itself fails if /code/rtl/extra.sv or /code/rundir/conftest.py exist.
    expect(e.passed, e.failure_reason).toBe(true);
    expect(e.ignored_paths).toEqual(["rtl/extra.sv", "rundir/conftest.py"]);
    expect(e.artifact.files).not.toHaveProperty("rtl/extra.sv");
  }, 120_000);

  it("defect (CVDP: the API key was passed into the harness): no host variable, no key, reaches a harness", () => {
    const leak = {
      ...records.mux,
      harness: {
        files: {
          ...records.mux.harness.files,
          "src/run.sh": "env; cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n'; ls -a /code /code/rundir",
        },
      },
    };
    const dir = testdir({
      "exp.yaml": config(),
      "data.jsonl": [leak],
      "responses.jsonl": [{ id: leak.id, completion: "module mux4; endmodule" }],
    });
    const secret = "sk-cvdp-secret-0123456789";
    const r = runCli(["import", "exp.yaml", "--responses", "responses.jsonl"], dir, {
      OPENAI_API_KEY: secret,
    });
    expect(r.code).toBe(0);
    const text = readFileSync(join(trialDir(dir), "executions.jsonl"), "utf8");
    expect(text).toContain("COCOTB_RANDOM_SEED=5");
    expect(text).not.toContain(secret);
    expect(text).not.toContain("OPENAI_API_KEY");
  }, 120_000);

  it("the example experiment: gold passes every runnable problem", () => {
    const data = readFileSync(join(ROOT, "examples", "cvdp", "problems.jsonl"), "utf8");
    expect(data).toBe(
      dataset()
        .map((rec) => `${JSON.stringify(rec)}\n`)
        .join(""),
    );
    const copy = testdir({
      "cvdp.yaml": readFileSync(join(ROOT, "examples", "cvdp.yaml"), "utf8"),
      "cvdp/problems.jsonl": data,
    });
    const r = runCli(["run", "cvdp.yaml"], copy);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toContain("100.0%");
  }, 240_000);
});
