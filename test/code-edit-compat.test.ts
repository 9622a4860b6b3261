import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { Sample } from "../src/core/index.js";
import { extractDiff, removeLastFile } from "../src/tasks/code-edit/extract.js";
import { codeEditTask, forVariant } from "../src/tasks/code-edit/index.js";
import { prepareSamples } from "../src/tasks/code-edit/prepare.js";
import { codeEditRow } from "../src/tasks/code-edit/records.js";
import { git, makeRepo } from "./code-edit-repo.js";
import { ROOT } from "./helpers.js";

/**
 * Byte-for-byte compatibility with EditBench's reference builder, on the reference data kept
 * beside the repository (`<repo>/../shared/data/editbench`, or $BENCHLINE_EDITBENCH_DATA), when it is there.
 */
const DATA = process.env.BENCHLINE_EDITBENCH_DATA ?? resolve(ROOT, "..", "shared", "data", "editbench");
const present = existsSync(join(DATA, "bench.jsonl"));
if (!present) console.warn(`skipping EditBench compatibility: ${DATA} is absent`);

const readJsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

const FLAGS: Record<string, string> = {
  "pr-issue": "_body_issue",
  "no-pr": "_issue",
  "no-issue": "_body",
  bare: "",
};

describe.skipIf(!present)("EditBench compatibility (reference data)", () => {
  it("rebuilds every variant of every instance from repositories: split, pre_edits, ground_truth, prompt byte-exact", async () => {
    const rows = readJsonl(join(DATA, "bench.jsonl"));
    const root = mkdtempSync(join(tmpdir(), "ce-compat-"));
    const repos: Record<string, string> = {};
    for (const row of rows) {
      const { dir, commit } = makeRepo(row._files, join(root, row.instance_id));
      expect(commit).toBe(row.base_commit);
      repos[row.repo] = dir;
    }
    const files = readdirSync(join(DATA, "expected")).filter((f) => f.startsWith("pct"));
    const variants = new Map(
      files.map((f) => {
        const m = /^pct(None|[\d.]+)-(.*)\.jsonl$/.exec(f) as RegExpExecArray;
        return [`${m[1]}${FLAGS[m[2] as string]}`, f];
      }),
    );
    const samples: Sample[] = rows.map((row, i) => {
      const { _files, _final_files, ...rest } = row;
      return codeEditTask.toSample(codeEditRow.parse(rest), i + 1);
    });
    await prepareSamples(
      samples,
      { repos, variants: [...variants.keys()], test_command: "true", log_format: "pytest", strict: false },
      { baseDir: root, label: "bench.jsonl", lines: new Map(), promptSets: [...variants.keys()] },
    );
    let compared = 0;
    for (const [variant, file] of variants) {
      for (const expected of readJsonl(join(DATA, "expected", file))) {
        const sample = samples.find((s) => s.id === expected.instance_id) as Sample;
        const got = forVariant(sample, variant).input as Record<string, unknown>;
        for (const key of ["split_idx", "pre_edits", "ground_truth", "prompt", "num_changes"])
          expect(got[key], `${variant} ${expected.instance_id} ${key}`).toEqual(expected[key]);
        compared++;
      }
    }
    expect(compared).toBe(51);
    // The shown edits and the ground truth apply in order (fed with "\n", as the reference's
    // validation does) and end at the final files.
    for (const row of rows) {
      const sample = samples.find((s) => s.id === row.instance_id) as Sample;
      const input = forVariant(sample, "0.4_body_issue").input as {
        pre_edits: string[];
        ground_truth: string;
      };
      const dir = repos[row.repo] as string;
      for (const patch of [...input.pre_edits, input.ground_truth]) git(dir, ["apply"], `${patch}\n`);
      for (const [path, content] of Object.entries(row._final_files as Record<string, string>))
        expect(readFileSync(join(dir, path), "utf8"), path).toBe(content);
      git(dir, ["checkout", "-q", "--", "."]);
    }
  });

  it("extract_diff: every reference output", () => {
    const cases = JSON.parse(readFileSync(join(DATA, "expected", "extract_diff.json"), "utf8"));
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases) expect(extractDiff(c.full_output).patch, c.name).toBe(c.model_patch);
  });

  it("remove_last_file_from_prompt: once and twice, every reference case", () => {
    const rows = readJsonl(join(DATA, "expected", "remove_last_file.jsonl"));
    for (const r of rows) {
      const prompt: string =
        r.prompt ??
        readJsonl(join(DATA, "expected", `${r.variant}.jsonl`)).find((x) => x.instance_id === r.instance_id)
          .prompt;
      const once = removeLastFile(prompt);
      expect(once, `${r.variant} ${r.instance_id}`).toBe(r.after_one_removal);
      expect(removeLastFile(once)).toBe(r.after_two_removals);
      expect(once !== prompt).toBe(r.changed);
    }
  });
});
