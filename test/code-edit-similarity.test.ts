import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  codeTokens,
  fileHitRate,
  normalizedEditDistance,
  preprocessDiff,
  round4,
  tfidfCosine,
  tokenJaccard,
} from "../src/scoring/similarity.js";
import { C0, calcRows, T0 } from "./code-edit-calc.js";
import { makeRepo } from "./code-edit-repo.js";
import { ROOT, runCliAsync, testdir } from "./helpers.js";

// The system Python, where scripts/install-test-deps.sh installs scikit-learn (python3-sklearn):
// a `python3` earlier on PATH (pyenv, a venv) may not have it.
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const python = (script: string, input: string): string =>
  execFileSync(PYTHON, [join(ROOT, "test", script)], { input, encoding: "utf8", maxBuffer: 1 << 26 });

/** Diff-like texts with what preprocess_diff must handle: meta lines, comments, odd whitespace. */
function randomPairs(n: number, seed: number): [string, string][] {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const files = ["a.py", "pkg/b.py", "c/d e.py", "ünï.py"];
  const lines = [
    "+    return a + b",
    "-    return a - b",
    "     x = compute(y, z)  # why",
    "+# only a comment",
    "@@ -1,4 +1,5 @@ def add(a, b):",
    "@@ -10 +10 @@",
    "index 0123abc..4567def 100644",
    "--- a/calc.py",
    "+++ b/calc.py",
    "-- not meta (no space)",
    "+\tresult = [i ** 2 for i in range(10)]",
    "+    s = 'naïve 😀 text' \u00a0",
    "\u2003+    y = x\u00a0",
    "+    \x1c z = 1",
    "   ",
    "",
    "+    if a != b and not (c <= d): raise ValueError('x')",
    "-    value = items[0].config.parser(token=score)",
    "+    value = items[1].config.parser(token=score) #tail",
    "+    return {'k': v for k, v in d.items()}\r",
    "#!/usr/bin/env python",
    '+    print(f"{x!r:>10}")',
  ];
  const diff = () => {
    const out: string[] = [];
    for (let f = 0; f < 1 + Math.floor(rand() * 3); f++) {
      const file = pick(files);
      out.push(`diff --git a/${file} b/${file}`);
      for (let i = 0; i < Math.floor(rand() * 12); i++) out.push(pick(lines));
    }
    return rand() < 0.1 ? "" : `${rand() < 0.3 ? "\n " : ""}${out.join("\n")}${rand() < 0.5 ? "\n" : ""}`;
  };
  const pairs: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const gt = diff();
    pairs.push([gt, rand() < 0.15 ? gt : diff()]);
  }
  return pairs;
}

describe("EditBench similarity metrics against a Python reference", () => {
  it("preprocess_diff, normalised edit distance, token Jaccard, TF-IDF cosine (scikit-learn) and file hit agree on 150 diffs", () => {
    const pairs = randomPairs(150, 7);
    const ref = JSON.parse(python("code-edit-similarity-reference.py", JSON.stringify(pairs))) as {
      processed: [string, string];
      edit_distance: number;
      token_jaccard: number;
      tfidf_manual: number;
      tfidf_sklearn: number | null;
      file_hit: number;
    }[];
    const sklearn = ref[0]?.tfidf_sklearn !== null;
    for (const [i, [gtRaw, predRaw]] of pairs.entries()) {
      const r = ref[i]!;
      const gt = preprocessDiff(gtRaw.trim());
      const pred = preprocessDiff(predRaw.trim());
      const where = `pair ${i}: ${JSON.stringify([gtRaw, predRaw])}`;
      expect([gt, pred], where).toEqual(r.processed);
      expect(normalizedEditDistance(gt, pred), where).toBe(r.edit_distance);
      expect(tokenJaccard(codeTokens(gt), codeTokens(pred)), where).toBe(r.token_jaccard);
      expect(tfidfCosine(gt, pred), where).toBe(r.tfidf_manual);
      if (sklearn) expect(tfidfCosine(gt, pred), where).toBe(r.tfidf_sklearn);
      expect(fileHitRate(gtRaw.trim(), predRaw.trim()), where).toBe(r.file_hit);
    }
    // Enough variety that the comparison means something.
    expect(new Set(ref.map((r) => r.edit_distance)).size).toBeGreaterThan(50);
    expect(ref.some((r) => r.file_hit > 0 && r.file_hit < 1)).toBe(true);
    // CI installs scikit-learn (scripts/install-test-deps.sh): the TF-IDF reference is the library's.
    if (process.env.CI) expect(sklearn).toBe(true);
  });

  it("round4 is Python's round(x, 4), ties to even included", () => {
    const xs = [1 / 32, 3 / 32, 5 / 32, 0.5, 1 / 3, 2 / 3, 0.00005, 0.99995, 0.123449999, 1, 0];
    const py = JSON.parse(
      execFileSync(
        PYTHON,
        ["-c", `import json,sys; print(json.dumps([round(x, 4) for x in ${JSON.stringify(xs)}]))`],
        {
          encoding: "utf8",
        },
      ),
    );
    expect(xs.map(round4)).toEqual(py);
  });
});

describe("similarity scorers through the CLI", () => {
  it("edit_distance, token_jaccard, tfidf_cosine and file_hit from the config: gold scores perfect, a partial patch in between, an empty one is left out", async () => {
    const repo = makeRepo({ "calc.py": C0, "tests/__init__.py": "", "tests/test_calc.py": T0 });
    const data = calcRows(repo.commit);
    const patch = data[1]?.patch as string;
    const partial = patch.replace(/^\+(.*)a \+ b$/m, "+$1b + a");
    expect(partial).not.toBe(patch);
    const dir = testdir({
      "exp.yaml": [
        "name: sim",
        `task: {name: code-edit, repos: {demo/calc: ${repo.dir}}, variants: ["None_body_issue"]}`,
        "dataset: data.jsonl",
        "models: [gold, 'import:responses.jsonl']",
        "scorers: [exec, edit_distance, token_jaccard, tfidf_cosine, file_hit]",
        "execution: {timeout: 60}",
        "",
      ].join("\n"),
      "data.jsonl": data,
      "responses.jsonl": [
        { id: "demo__calc-2", completion: `\`\`\`diff\n${partial}\`\`\`` },
        { id: "demo__calc-pull-1", completion: "" },
      ],
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    const exp = join(dir, "runs/sim");
    const scoresOf = (prefix: string) => {
      const trial = readdirSync(exp).find((d) => d.startsWith(prefix)) as string;
      const rows = readFileSync(join(exp, trial, "scores.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      return {
        get: (id: string, scorer: string) => rows.find((s) => s.id === id && s.scorer === scorer),
        summary: JSON.parse(readFileSync(join(exp, trial, "summary.json"), "utf8")),
      };
    };
    const gold = scoresOf("gold__");
    for (const id of ["demo__calc-2", "demo__calc-pull-1"]) {
      expect(gold.get(id, "edit_distance").value).toBe(0);
      expect(gold.get(id, "token_jaccard").value).toBe(1);
      expect(gold.get(id, "tfidf_cosine").value).toBe(1);
      expect(gold.get(id, "file_hit").value).toBe(1);
    }
    const imported = scoresOf("import-");
    const ref = JSON.parse(
      python("code-edit-similarity-reference.py", JSON.stringify([[patch, partial]])),
    )[0];
    expect(imported.get("demo__calc-2", "edit_distance").value).toBe(ref.edit_distance);
    expect(ref.edit_distance).toBeGreaterThan(0);
    expect(imported.get("demo__calc-2", "token_jaccard").value).toBe(ref.token_jaccard);
    expect(imported.get("demo__calc-2", "tfidf_cosine").value).toBe(ref.tfidf_manual);
    expect(imported.get("demo__calc-2", "file_hit").value).toBe(1);
    // The empty completion has no patch: left out of the means (EditBench's patch_is_None).
    expect(imported.get("demo__calc-pull-1", "edit_distance").detail).toMatchObject({
      empty_patch: true,
      dropped: true,
    });
    expect(JSON.stringify(imported.summary)).toContain("edit_distance");
  }, 180_000);

  it("a bad similarity scorer option is a config error naming the file, the scorer entry and the field", async () => {
    const dir = testdir({
      "exp.yaml":
        "name: x\ntask: code-edit\ndataset: d.jsonl\nmodels: [gold]\nscorers: [{name: file_hit, empty: keep}]\n",
      "d.jsonl": [{ instance_id: "a", prompt: "p" }],
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exp\.yaml: scorers\[0\]: empty: .*"drop"\|"score"/);
  });
});
