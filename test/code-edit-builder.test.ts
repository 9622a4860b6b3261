import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BenchlineError,
  ContextExceededError,
  type Sample,
  type Shortener,
  truncateMessages,
} from "../src/core/index.js";
import { buildIndex, scores, tokenize, topN } from "../src/tasks/code-edit/bm25.js";
import { generateDiff, parseVariant, splitIndex } from "../src/tasks/code-edit/builder.js";
import { extractDiff, removeLastFile } from "../src/tasks/code-edit/extract.js";
import { codeEditTask, forVariant } from "../src/tasks/code-edit/index.js";
import { prepareSamples } from "../src/tasks/code-edit/prepare.js";
import { codeEditRow } from "../src/tasks/code-edit/records.js";
import { fileDiff, git, makeRepo } from "./code-edit-repo.js";

/** calc.py through four steps; util.py edited in step 1 (with calc.py) and step 3. */
const V0 = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n";
const V1 = "def add(a, b):\n    return a + b  # $& stays\n\n\ndef sub(a, b):\n    return a - b\n";
const V2 = `${V1}\n\ndef mul(a, b):\n    return a * b\n`;
const V3 = `${V2}\n\ndef div(a, b):\n    return a / b\n`;
const V4 = V3.replace("return a / b", "return a / b if b else None");
const U0 = "X = 1\n";
const U1 = "X = 1\nY = 2\n";
const U3 = "X = 1\nY = 2\nZ = 3\n";
const strip = (d: string) => d.replace(/\n$/, ""); // GitHub patch texts lack the final newline

function fixture() {
  const repo = makeRepo({
    "pkg/calc.py": V0,
    "pkg/util.py": U0,
    "pkg/other.py": "def mul_table():\n    return [a * b for a in range(3) for b in range(3)]\n",
  });
  const row = {
    instance_id: "demo__demo-pull-1",
    repo: "demo/demo",
    base_commit: repo.commit,
    title_mes: "Arithmetic helpers",
    body_mes: "<!-- hidden -->\r\nAdd mul and div.\r\n\r\n\r\nThanks",
    issues_mes: "Need more ops",
    files_work: ["pkg/calc.py", "pkg/util.py"],
    work_patch_list: [
      [strip(fileDiff("pkg/calc.py", V0, V1)), strip(fileDiff("pkg/util.py", U0, U1))],
      [strip(fileDiff("pkg/calc.py", V1, V2))],
      [strip(fileDiff("pkg/calc.py", V2, V3)), strip(fileDiff("pkg/util.py", U1, U3))],
      [strip(fileDiff("pkg/calc.py", V3, V4))],
    ],
    test_patch: "",
  };
  return { repo, row };
}

async function build(row: Record<string, unknown>, dir: string, variants: string[]) {
  const sample = codeEditTask.toSample(codeEditRow.parse(row), 1);
  await prepareSamples(
    [sample],
    { repos: { "demo/demo": dir }, variants, test_command: "true", log_format: "pytest", strict: false },
    { baseDir: dir, label: "data.jsonl", lines: new Map([[sample.id, 1]]), promptSets: variants },
  );
  return (v: string) => forVariant(sample, v) as Sample;
}

describe("code-edit builder (own fixtures)", () => {
  it("a four-step history split at several info_pct values: shown edits + ground truth reach the final files", async () => {
    const { repo, row } = fixture();
    const view = await build(row, repo.dir, ["0.2_body_issue", "0.5_body_issue", "0.8", "None_body_issue"]);
    const expectations: [string, number][] = [
      ["0.2_body_issue", 1],
      ["0.5_body_issue", 2],
      ["0.8", 3],
      ["None_body_issue", 0],
    ];
    for (const [variant, split] of expectations) {
      const input = view(variant).input as {
        split_idx: number;
        pre_edits: string[];
        ground_truth: string;
        prompt: string;
      };
      expect(input.split_idx, variant).toBe(split);
      expect(input.pre_edits).toHaveLength(split);
      for (const patch of [...input.pre_edits, input.ground_truth])
        if (patch) git(repo.dir, ["apply"], `${patch}\n`);
      expect(readFileSync(join(repo.dir, "pkg/calc.py"), "utf8"), variant).toBe(V4);
      expect(readFileSync(join(repo.dir, "pkg/util.py"), "utf8"), variant).toBe(U3);
      git(repo.dir, ["checkout", "-q", "--", "."]);
      // The gold answer is the variant's ground truth.
      expect(view(variant).target).toBe(input.ground_truth);
    }
    // 0.5 of 4 steps = 2 (Python rounds half to even; Math.round would give the same here, 2.5 would not).
    expect(splitIndex(5, 0.5)).toBe(2);
    expect(splitIndex(2, 0.9)).toBe(1);
    expect(splitIndex(3, 0.01)).toBe(1);
    expect(splitIndex(3, 0.99)).toBe(2);
  });

  it("prompt: templates by requirement and split, numbered lines with the trailing empty line, $& kept literally", async () => {
    const { repo, row } = fixture();
    const view = await build(row, repo.dir, ["0.5_body_issue", "0.5", "None_body_issue", "None"]);
    const prompt = (v: string) => (view(v).input as { prompt: string }).prompt;
    const full = prompt("0.5_body_issue");
    expect(full).toContain(
      "<requirement>\nArithmetic helpers\nAdd mul and div.\nThanksNeed more ops\n</requirement>",
    );
    expect(full).toContain("2     return a + b  # $& stays\n");
    expect(full).toMatch(/\n11 \n\[end of pkg\/calc.py\]/); // 10 lines + the empty one (quirk 4)
    expect(full).toContain("[start of step 1]\ndiff --git a/pkg/calc.py");
    // Step 1 edits two files: the step ends without a newline (quirk 1).
    expect(full).toContain("+Y = 2\n[end of step 1]");
    expect(
      prompt("0.5").startsWith("You will be provided with 1) a partial code base and 2) an ordered history"),
    ).toBe(true);
    expect(prompt("None_body_issue")).toContain("2) a code editing requirement");
    expect(prompt("None_body_issue")).not.toContain("<change_history>");
    expect(prompt("None")).toBe(""); // no requirement, no history (quirk 6)
  });

  it("strict mode ends multi-file shown steps with a newline so each is a valid patch", async () => {
    const { repo, row } = fixture();
    const sample = codeEditTask.toSample(codeEditRow.parse(row), 1);
    await prepareSamples(
      [sample],
      {
        repos: { "demo/demo": repo.dir },
        variants: ["0.5"],
        test_command: "true",
        log_format: "pytest",
        strict: true,
      },
      { baseDir: repo.dir, label: "d", lines: new Map(), promptSets: ["0.5"] },
    );
    const edits = (forVariant(sample, "0.5").input as { pre_edits: string[] }).pre_edits;
    for (const e of edits) git(repo.dir, ["apply", "--check"], e);
  });

  it("bm25 context: the edited files after the shown steps, then the best-matching others", async () => {
    const { repo, row } = fixture();
    const view = await build(row, repo.dir, ["0.5_bm25_1"]);
    const prompt = (view("0.5_bm25_1").input as { prompt: string }).prompt;
    const files = [...prompt.matchAll(/\[start of (\S+)\]/g)].map((m) => m[1]);
    expect(files).toEqual(["pkg/calc.py", "pkg/util.py", "pkg/other.py"]);
  });

  it("bad input: unknown repository, base_commit missing from the clone, field missing — one line naming file, line and field", async () => {
    const { repo, row } = fixture();
    await expect(build({ ...row, repo: "nobody/else" }, repo.dir, ["0.2"])).rejects.toThrow(
      /data\.jsonl:1: repo: "nobody\/else" has no local clone/,
    );
    await expect(build({ ...row, base_commit: "deadbeef" }, repo.dir, ["0.2"])).rejects.toThrow(
      /data\.jsonl:1: base_commit: deadbeef is not in the clone/,
    );
    await expect(build(row, repo.dir, ["0.2_whatever"])).rejects.toBeInstanceOf(BenchlineError);
    const missing = codeEditRow.safeParse({
      instance_id: "x",
      work_patch_list: [],
      repo: "a/b",
      base_commit: "c",
    });
    expect(missing.success).toBe(false);
    expect(JSON.stringify(missing.error?.issues.map((i) => i.path))).toContain("files_work");
  });

  it("SWE-bench records: FAIL_TO_PASS as JSON strings; the reference patch is gold", async () => {
    const { repo } = fixture();
    const patch = fileDiff("pkg/calc.py", V0, V1);
    const row = {
      instance_id: "demo__demo-2",
      repo: "demo/demo",
      base_commit: repo.commit,
      patch,
      problem_statement: "add a comment",
      test_patch: "",
      FAIL_TO_PASS: '["t.py::a"]',
      PASS_TO_PASS: "[]",
    };
    const view = await build(row, repo.dir, ["None_issue"]);
    const s = view("None_issue");
    expect(s.target).toBe(patch);
    expect((s.input as { instance: { fail_to_pass: string[] } }).instance.fail_to_pass).toEqual(["t.py::a"]);
    expect((s.input as { prompt: string }).prompt).toContain("<requirement>\nadd a comment\n</requirement>");
    expect(codeEditRow.safeParse({ ...row, FAIL_TO_PASS: "not json" }).success).toBe(false);
  });

  it("variants: run ids parse; others are refused", () => {
    expect(parseVariant("0.2_bm25_5")).toMatchObject({
      info_pct: 0.2,
      pr: false,
      issue: false,
      context: "bm25",
      top_n: 5,
    });
    expect(parseVariant("None_body_issue")).toMatchObject({
      info_pct: null,
      pr: true,
      issue: true,
      context: "oracle",
    });
    expect(parseVariant("0.2_issue_body")).toBeUndefined();
    expect(parseVariant("1.5")).toBeUndefined();
  });
});

describe("generateDiff (difflib port)", () => {
  it("matches git's hunks for a simple change and is empty past the header for equal texts", () => {
    const d = generateDiff("a\nb\nc\n", "a\nB\nc\n", "f.py");
    expect(d).toBe("diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
    expect(generateDiff("x\n", "x\n", "f.py")).toBe("diff --git a/f.py b/f.py\n");
    expect(generateDiff("", "new\n", "f.py")).toContain("@@ -0,0 +1 @@\n+new\n");
  });
});

describe("extractDiff and removeLastFile (own cases)", () => {
  it("records the method: tag, fence, other block, raw, none", () => {
    expect(extractDiff("x <patch>P</patch> ```diff\nD```")).toEqual({ patch: "P", method: "diff_tag" });
    expect(extractDiff("```python\nX```\n```diff\nD```")).toEqual({ patch: "D", method: "diff_fence" });
    expect(extractDiff("```\nX```")).toEqual({ patch: "X", method: "other_fence" });
    expect(extractDiff("<think>T</think>")).toEqual({ patch: "T", method: "other_tag" });
    expect(extractDiff("raw</s>junk")).toEqual({ patch: "raw", method: "raw" });
    expect(extractDiff("")).toEqual({ patch: "", method: "raw" });
    expect(extractDiff(null)).toEqual({ patch: null, method: "none" });
  });

  it("drops the last file; halves a lone file of 2,000+ lines; leaves shorter lone files", () => {
    const p =
      "<code>\n[start of a.py]\n1 x\n[end of a.py]\n[start of b.py]\n1 y\n[end of b.py]\n</code>\nrest";
    // The reference rebuilds the block as "\n" + rest, so a blank line appears after <code>.
    expect(removeLastFile(p)).toBe("<code>\n\n[start of a.py]\n1 x\n[end of a.py]\n</code>\nrest");
    const long = Array.from({ length: 2001 }, (_, i) => `${i + 1} l`).join("\n");
    const cut = removeLastFile(`<code>\n[start of a.py]\n${long}\n[end of a.py]\n</code>`);
    expect(cut.split("\n").filter((l) => l.endsWith(" l"))).toHaveLength(1000);
    const short = "<code>\n[start of a.py]\n1 x\n[end of a.py]\n</code>";
    expect(removeLastFile(short)).toBe(short);
  });
});

describe("BM25", () => {
  it("tokenises like the reference and ranks by Okapi scores (k1 1.5, b 0.75)", () => {
    expect(tokenize("foo_bar(x)+1 é")).toEqual(["foo_bar", "(", "x", ")", "+", "1", "é"]);
    const index = buildIndex([
      { path: "a.py", text: "alpha beta beta" },
      { path: "b.py", text: "gamma delta" },
      { path: "c.py", text: "alpha gamma" },
    ]);
    const s = scores(index, ["beta"]);
    // idf(beta) = ln(3 - 1 + .5) - ln(1 + .5); tf 2, dl 3, avgdl 7/3
    const idf = Math.log(2.5) - Math.log(1.5);
    expect(s[0]).toBeCloseTo((idf * (2 * 2.5)) / (2 + 1.5 * (0.25 + (0.75 * 3) / (7 / 3))), 12);
    expect(s[1]).toBe(0);
    expect(topN(index, ["delta", "beta"], 3)).toEqual(["a.py", "b.py", "c.py"]); // tf 2 beats tf 1
    // alpha is in 2 of 3 files: negative idf, lifted to 0.25 x mean idf (0 here), so c.py ties
    // with b.py at 0 and the stable sort keeps file order.
    expect(topN(index, ["alpha"], 2)).toEqual(["a.py", "b.py"]);
    // Leaving a document out is building the index without it.
    const without = buildIndex([
      { path: "b.py", text: "gamma delta" },
      { path: "c.py", text: "alpha gamma" },
    ]);
    expect(scores(index, ["gamma", "alpha"], new Set(["a.py"])).slice(1)).toEqual(
      scores(without, ["gamma", "alpha"]),
    );
  });
});

describe("context limit: drop the last file block", () => {
  it("drops files until the prompt fits, records the truncation, and fails when it cannot fit", () => {
    const policy = codeEditTask.truncation as Shortener;
    const prompt =
      "<code>\n[start of a.py]\n1 x\n[end of a.py]\n[start of b.py]\n1 yyyyyyyyyyyyyyyyyyyy\n[end of b.py]\n</code>";
    const fitted = truncateMessages([{ role: "user", content: prompt }], 50, policy);
    expect(fitted.messages[0]?.content).not.toContain("b.py");
    expect(fitted.truncation).toMatchObject({ policy: "drop-last-file", steps: 1 });
    expect(() => truncateMessages([{ role: "user", content: prompt }], 10, policy)).toThrow(
      ContextExceededError,
    );
  });
});
