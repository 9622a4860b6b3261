import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { isBwrapUsable } from "../src/sandbox/bwrap.js";
import { simulatorPresent } from "./cvdp-fixtures.js";
import { ROOT, runCli, testdir } from "./helpers.js";

/**
 * Compatibility with NVIDIA's CVDP on its own records, kept beside the repository
 * (`<repo>/../shared/data/cvdp`, for a worktree `<repo>/../../shared/data/cvdp`, or $BENCHLINE_CVDP_DATA)
 * when they are there. The records are read in place, never copied into the project.
 */
const DATA =
  process.env.BENCHLINE_CVDP_DATA ??
  [resolve(ROOT, "..", "shared", "data", "cvdp"), resolve(ROOT, "..", "..", "shared", "data", "cvdp")].find(
    (d) => existsSync(join(d, "expected_prompts.jsonl")),
  );
const present = DATA !== undefined;
if (!present) console.warn("skipping CVDP compatibility: ../shared/data/cvdp is absent");

const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

const records = () =>
  ["nonagentic_with_solutions.jsonl", "agentic_with_solutions.jsonl"].flatMap((f) =>
    readFileSync(join(DATA as string, f), "utf8")
      .trim()
      .split("\n"),
  );

describe.skipIf(!present)("CVDP compatibility (reference data)", () => {
  it("benchline export writes CVDP's {id, prompt, system, user} lines, byte-identical to its local_export", () => {
    const expected = jsonl(join(DATA as string, "expected_prompts.jsonl"));
    const dir = testdir({
      "exp.yaml": "name: cvdp-compat\ntask: cvdp\ndataset: data.jsonl\nmodels: [gold]\n",
      "data.jsonl": `${records().join("\n")}\n`,
    });
    const r = runCli(["export", "exp.yaml", "-o", "prompts.jsonl"], dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = jsonl(join(dir, "prompts.jsonl"));
    const byId = new Map(lines.map((l) => [l.id, l]));
    expect(expected.length).toBe(4);
    for (const want of expected) {
      const got = byId.get(want.id);
      expect(got, want.id).toBeDefined();
      expect(Object.keys(got)).toEqual(["id", "prompt", "system", "user"]);
      // Byte for byte: compare the strings themselves, not a normalised form.
      for (const field of ["system", "user", "prompt"])
        expect(got[field], `${want.id} ${field}`).toBe(want[field]);
    }
  });

  it.skipIf(!isBwrapUsable() || !simulatorPresent())(
    "gold on every record: lfsr and the agentic arbiter pass; the cid010 answer is unavailable without a judge; both commercial records are skipped; the no-solution lfsr is not a pass",
    () => {
      const noSolution = readFileSync(
        join(DATA as string, "nonagentic_lfsr_no_solution.jsonl"),
        "utf8",
      ).trim();
      const renamed = noSolution.replace('"cvdp_copilot_lfsr_0001"', '"cvdp_copilot_lfsr_0099"');
      const dir = testdir({
        "exp.yaml":
          "name: gold\ntask: cvdp\ndataset: data.jsonl\nmodels: [gold]\nexecution: {sandbox: bwrap, timeout: 300, concurrency: 2}\n",
        "data.jsonl": `${[...records(), renamed].join("\n")}\n`,
      });
      const r = runCli(["run", "exp.yaml"], dir);
      expect(r.code, r.stderr).toBe(0);
      const exp = join(dir, "runs/gold");
      const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
      const executions = new Map(jsonl(join(exp, trial as string, "executions.jsonl")).map((e) => [e.id, e]));
      expect(executions.get("cvdp_copilot_lfsr_0001")?.passed).toBe(true);
      expect(executions.get("cvdp_agentic_fixed_arbiter_0001")?.passed).toBe(true);
      for (const id of ["cvdp_copilot_gf_multiplier_0039", "cvdp_agentic_8x3_priority_encoder_0003"])
        expect(executions.get(id)?.skipped, id).toMatch(/commercial simulator/);
      const scores = new Map(jsonl(join(exp, trial as string, "scores.jsonl")).map((s) => [s.id, s]));
      expect(scores.get("cvdp_copilot_barrel_shifter_0031")?.detail).toMatchObject({ status: "unavailable" });
      // no reference answer: the gold prediction is an error row, never executed or passed
      const predictions = jsonl(join(exp, trial as string, "predictions.jsonl"));
      expect(predictions.find((p) => p.id === "cvdp_copilot_lfsr_0099")?.status).toBe("error");
      expect(executions.has("cvdp_copilot_lfsr_0099")).toBe(false);
    },
    600_000,
  );

  it.skipIf(!isBwrapUsable() || !simulatorPresent())(
    "lfsr completions through the local backend: golden fenced/raw pass; stuck, syntax error, wrong module, testbench-first fail",
    () => {
      const record = readFileSync(join(DATA as string, "nonagentic_with_solutions.jsonl"), "utf8").split(
        "\n",
      )[0];
      // All six, testbench_block_first too: benchline documents CVDP's rule (the first fenced block).
      const cases = jsonl(join(DATA as string, "lfsr_completions.jsonl"));
      expect(cases.length).toBe(6);
      const dir = testdir({
        "exp.yaml":
          "name: lfsr\ntask: {name: cvdp, seed: 3}\ndataset: data.jsonl\nmodels: [gold]\nexecution: {sandbox: bwrap, timeout: 120, concurrency: 2}\n",
        "data.jsonl": `${record}\n`,
        "responses.jsonl": cases.map((c) => ({ id: c.id, completion: c.completion })),
      });
      const r = runCli(
        ["import", "exp.yaml", "--responses", "responses.jsonl", "--samples", String(cases.length)],
        dir,
      );
      expect(r.stderr).not.toMatch(/[1-9]\d* error\(s\)|benchline:/);
      expect(r.code).toBe(0);
      const exp = join(dir, "runs/lfsr");
      const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
      const executions = jsonl(join(exp, trial as string, "executions.jsonl"));
      for (const [i, c] of cases.entries()) {
        const row = executions.find((e) => e.sample === i);
        expect(row, c.case).toBeDefined();
        expect(row.passed, `${c.case}: ${row.failure_reason ?? ""}`).toBe(c.expect === "pass");
        expect(row.cocotb_random_seed).toBe(3);
      }
    },
    300_000,
  );
});
