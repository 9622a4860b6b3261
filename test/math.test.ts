import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { extractAnswer } from "../src/core/index.js";
import { EQUAL, HENDRYCKS_CASES, NOT_EQUAL } from "../src/scoring/math/cases.js";
import {
  hendrycksNormalize,
  loadCas,
  math,
  mathEquivalent,
  mathExact,
  minervaNormalize,
} from "../src/scoring/math/index.js";
import { ROOT, runCli, testdir } from "./helpers.js";

describe("math equivalence", () => {
  it.each(HENDRYCKS_CASES)("Hendrycks case $pred vs $gold (math: $math, exact: $exact)", async (c) => {
    expect(await mathEquivalent(c.pred, c.gold)).toBe(c.math);
    expect(await mathEquivalent(c.gold, c.pred)).toBe(c.math);
    expect(hendrycksNormalize(c.pred) === hendrycksNormalize(c.gold)).toBe(c.exact);
  });
  it.each(EQUAL)("%s equals %s (both directions)", async (a, b) => {
    expect(await mathEquivalent(a, b)).toBe(true);
    expect(await mathEquivalent(b, a)).toBe(true);
  });
  it.each(NOT_EQUAL)("%s is not %s (both directions)", async (a, b) => {
    expect(await mathEquivalent(a, b)).toBe(false);
    expect(await mathEquivalent(b, a)).toBe(false);
  });
});

// ------------------------------------------------------------------ end to end through the CLI

const ROWS = [
  {
    id: "half",
    problem: "Half of one?",
    solution: "It is $\\boxed{\\frac{1}{2}}$.",
    level: "Level 1",
    type: "Prealgebra",
  },
  {
    id: "third",
    problem: "One third?",
    solution: "$\\boxed{\\frac13}$",
    level: "Level 1",
    type: "Prealgebra",
  },
  {
    id: "square",
    problem: "Expand (x+1)^2.",
    solution: "$\\boxed{x^2+2x+1}$",
    level: "Level 2",
    type: "Algebra",
  },
  {
    id: "roots",
    problem: "Roots of x^2-5x+6?",
    solution: "$\\boxed{2, 3}$",
    level: "Level 2",
    type: "Algebra",
  },
  {
    id: "interval",
    problem: "Solve 1 < x < 2.",
    solution: "$\\boxed{(1,2)}$",
    level: "Level 3",
    type: "Algebra",
  },
  { id: "line", problem: "Line with slope 2 through (0,3)?", answer: "y = 2x + 3", type: "Algebra" },
  { id: "seven", question: "Seven?", answer: 7 },
  { id: "lost", problem: "Lost?", solution: "$\\boxed{5}$", level: "Level 5", type: "Geometry" },
];

// What the command model answers, by problem text: equivalent-but-different forms, wrong, unparsable.
const COMPLETIONS: Record<string, string> = {
  "Half of one?": "So the answer is $\\boxed{0.5}$.",
  "One third?": "Roughly $\\boxed{0.333}$.", // wrong: not exactly 1/3
  "Expand (x+1)^2.": "$\\boxed{(x+1)^{2}}$ expanded is \\fbox{1 + 2x + x^2}", // last box wins
  "Roots of x^2-5x+6?": "$x = \\boxed{3,2}$",
  "Solve 1 < x < 2.": "\\boxed{\\left(1, 2\\right]}", // wrong bracket
  "Line with slope 2 through (0,3)?": "\\boxed{2x - y + 3 = 0}",
  "Seven?": "The answer is 7.", // fallback
  "Lost?": "I am not sure.", // unparsable
};

const MODEL = `#!/usr/bin/env node
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  const answers = ${JSON.stringify(COMPLETIONS)};
  const key = Object.keys(answers).find((q) => req.prompt.includes(q));
  process.stdout.write(JSON.stringify({ completion: key ? answers[key] : "?" }));
});
`;

function experiment(unparsed: "wrong" | "drop"): string {
  return [
    "name: m",
    "task:",
    "  name: math",
    `  unparsed: ${unparsed}`,
    "dataset: data.jsonl",
    "models: ['command:./model.js']",
    "scorers: [math, math_exact]",
  ].join("\n");
}

function trialDir(dir: string): string {
  const exp = join(dir, "runs", "m");
  const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
  return join(exp, trial!);
}

const readRows = (path: string): Record<string, unknown>[] =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("math task through the CLI", () => {
  it("examples/math.yaml: gold scores 100% on both scorers, echo 0% with no answer parsed", () => {
    const out = mkdtempSync(join(tmpdir(), "benchline-math-"));
    const r = runCli(["run", "math.yaml", "--out", out], join(ROOT, "examples"));
    expect(r.code, r.stderr).toBe(0);
    const exp = join(out, "math");
    const dirs = readdirSync(exp).filter((d) => d.includes("__"));
    const summary = (prefix: string) =>
      JSON.parse(readFileSync(join(exp, dirs.find((d) => d.startsWith(prefix))!, "summary.json"), "utf8"));
    const gold = summary("gold__");
    expect(gold.items).toBe(21);
    expect(gold.scorers.math).toMatchObject({ n: 21, mean: 1, parse: { parsed: 21, rate: 1 } });
    expect(gold.scorers.math_exact.mean).toBe(1);
    expect(gold.per_category.Geometry).toEqual({ n: 3, mean: 1 });
    const echo = summary("echo__");
    expect(echo.scorers.math).toMatchObject({ n: 21, mean: 0, parse: { parsed: 0, rate: 0 } });
  });

  it("a command model with equivalent, wrong and unparsable answers: scores, parsed_answer and the parse rate", () => {
    const dir = testdir({ "exp.yaml": experiment("wrong"), "data.jsonl": ROWS, "model.js": MODEL });
    chmodSync(join(dir, "model.js"), 0o755);
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    const trial = trialDir(dir);
    const scores = readRows(join(trial, "scores.jsonl"));
    const by = (id: string, scorer: string) => scores.find((s) => s.id === id && s.scorer === scorer)!;
    const math = Object.fromEntries(ROWS.map((row) => [row.id, by(row.id, "math").value]));
    expect(math).toEqual({ half: 1, third: 0, square: 1, roots: 1, interval: 0, line: 1, seven: 1, lost: 0 });
    expect(by("square", "math").detail).toMatchObject({
      parsed_answer: "1 + 2x + x^2",
      parsed: true,
      method: "boxed",
    });
    expect(by("seven", "math").detail).toMatchObject({ parsed_answer: "7", method: "fallback" });
    expect(by("lost", "math").detail).toMatchObject({ parsed_answer: null, parsed: false });
    // Minerva string equality misses the rewritten forms that `math` accepts.
    expect(by("half", "math_exact").value).toBe(0);
    const summary = JSON.parse(readFileSync(join(trial, "summary.json"), "utf8"));
    expect(summary.scorers.math).toMatchObject({ n: 8, mean: 0.625, parse: { parsed: 7, rate: 0.875 } });
    expect(summary.scorers.math.dropped_unparsed).toBeUndefined();
    expect(readFileSync(join(trial, "report.md"), "utf8")).toContain("answers parsed: 7 of 8 (87.5%)");
  });

  it("unparsed: drop leaves the unparsable answer out of the denominator and the report says so", () => {
    const dir = testdir({ "exp.yaml": experiment("drop"), "data.jsonl": ROWS, "model.js": MODEL });
    chmodSync(join(dir, "model.js"), 0o755);
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    const trial = trialDir(dir);
    const summary = JSON.parse(readFileSync(join(trial, "summary.json"), "utf8"));
    expect(summary.scorers.math).toMatchObject({
      n: 7,
      passed: 5,
      dropped_unparsed: 1,
      parse: { parsed: 7 },
    });
    expect(summary.mean_score).toBeCloseTo(5 / 7, 5);
    const report = readFileSync(join(trial, "report.md"), "utf8");
    expect(report).toContain("1 unparsed answer(s) dropped from the denominator");
    expect(report).toContain("62.5%"); // counting it as wrong
    // The experiment's report.md says so too, and does not call the trial "not fully scored".
    const experimentReport = readFileSync(join(trial, "..", "report.md"), "utf8");
    expect(experimentReport).toMatch(
      /Unparsed answers dropped from the denominator.*\(1 dropped; counting them as wrong gives 62\.5%\)/,
    );
    expect(experimentReport).not.toContain("Not fully scored");
  });

  it("imported completions ({id, completion}) are graded the same way, with the task's defaults", () => {
    const responses = ROWS.map((row) => ({
      id: row.id,
      completion: COMPLETIONS[(row.problem ?? row.question)!]!,
    }));
    const config = ["name: m", "task: math", "dataset: data.jsonl", "models: [gold]"].join("\n");
    const dir = testdir({ "exp.yaml": config, "data.jsonl": ROWS, "responses.jsonl": responses });
    const r = runCli(["import", "exp.yaml", "--responses", "responses.jsonl", "--name", "offline"], dir);
    expect(r.code, r.stderr).toBe(0);
    const trial = trialDir(dir);
    expect(trial).toMatch(/offline__default__/);
    const summary = JSON.parse(readFileSync(join(trial, "summary.json"), "utf8"));
    expect(summary.primary_scorer).toBe("math");
    expect(summary.scorers.math).toMatchObject({ n: 8, passed: 5, parse: { parsed: 7, rate: 0.875 } });
    expect(summary.scorers.math_exact.passed).toBeLessThan(5);
  });

  it("a row without an answer is a clear error naming file:line, nothing written", () => {
    const dir = testdir({
      "exp.yaml": experiment("wrong").replace("command:./model.js", "gold"),
      "data.jsonl": [ROWS[0]!, { problem: "No answer here", solution: "We never box it." }],
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/data\.jsonl:2.*solution.*\\boxed/);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("an unknown task option is rejected", () => {
    const dir = testdir({
      "exp.yaml": experiment("wrong").replace("unparsed: wrong", "unparsed: sometimes"),
      "data.jsonl": ROWS,
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unparsed/);
  });
});

describe("fast parser agrees with the compute engine", () => {
  it.each([
    "-x^2",
    "x^23",
    "2x(x+1)",
    "\\frac{1}{2}x + \\frac{3}{4}",
    "\\sqrt[3]{x} - \\sqrt{2}y",
    "(x+1)^{2}-\\pi",
    "3\\cdot 4 \\times x / 2",
    "e^{x} + i",
    "\\theta^2 + \\alpha\\beta",
    "1.5x - .5",
  ])("%s", async (latex) => {
    const { fastParse } = await import("../src/scoring/math/fast-parse.js");
    const { evaluate } = await import("../src/scoring/math/numbers.js");
    const cas = await loadCas();
    const fast = fastParse(latex);
    const slow = cas.parse(latex);
    expect(fast).toBeDefined();
    expect(slow).toBeDefined();
    const point = {
      x: [0.7, -0.3],
      y: [1.1, 0.4],
      theta: [0.2, 0.9],
      alpha: [-1.3, 0.5],
      beta: [0.6, 0],
    } as const;
    const vars = Object.fromEntries(
      Object.entries(point).map(([k, v]) => [k, [v[0], v[1]] as [number, number]]),
    );
    const a = evaluate(fast!, vars)!;
    const b = evaluate(slow!, vars)!;
    expect(Math.hypot(a[0] - b[0], a[1] - b[1])).toBeLessThan(1e-9);
  });
});

describe("answer extraction", () => {
  it.each([
    ["the last box wins", "First \\boxed{1}, then \\boxed{2}.", "2", "boxed"],
    [
      "nested braces",
      "$\\boxed{\\left(\\frac{1}{2}, \\sqrt{3}\\right)}$",
      "\\left(\\frac{1}{2}, \\sqrt{3}\\right)",
      "boxed",
    ],
    ["\\fbox", "so \\fbox{7}", "7", "boxed"],
    ["\\boxed 5", "hence $\\boxed 5$.", "5", "boxed"],
    ["spaces inside", "$\\boxed{ 42 }$", "42", "boxed"],
    ["escaped braces", "\\boxed{\\{1, 2\\}}", "\\{1, 2\\}", "boxed"],
    [
      "Minerva's format",
      "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.",
      "\\frac{1}{2}",
      "fallback",
    ],
    ["a plain sentence", "Adding up, the answer is 12.", "12", "fallback"],
    ["an unbalanced box falls back", "\\boxed{3 and the answer is 4", "4", "fallback"],
    ["nothing", "I do not know.", null, "none"],
    ["an empty box", "\\boxed{}", null, "none"],
    ["\\boxedfoo is not a box", "\\boxedfoo{3}", null, "none"],
  ])("%s", (_name, text, answer, method) => {
    expect(extractAnswer(text)).toEqual({ answer, method });
  });

  it("fallback patterns are configurable; none means boxed answers only", () => {
    expect(extractAnswer("ANSWER: 17", ["ANSWER:\\s*(\\S+)"])).toEqual({ answer: "17", method: "fallback" });
    expect(extractAnswer("The answer is 17.", [])).toEqual({ answer: null, method: "none" });
  });
});

describe("string normalisers (math_exact)", () => {
  it.each([
    ["10\\text{ inches}", "10"],
    ["\\$1,000", "1000"],
    ["x = 5", "5"],
    ["\\frac12", "\\frac{1}{2}"],
    ["\\sqrt3", "\\sqrt{3}"],
    ["\\text{(B)}", "(B)"],
    ["5^\\circ", "5"],
    ["\\boxed{7}", "7"],
    ["a = \\$3.50", "3.50"],
  ])("Minerva: %s → %s", (input, expected) => {
    expect(minervaNormalize(input)).toBe(expected);
  });

  it("math_exact is string equality after normalising: 0.5 is not \\frac12, but \\frac12 is \\frac{1}{2}", async () => {
    const input = (completion: string, target: string) => ({
      sample: { id: "a", input: {}, target },
      completion,
      artifact: completion,
    });
    const exact = (c: string, t: string) => mathExact.score(input(c, t), { normalizer: "minerva" });
    expect((await exact("\\boxed{\\frac12}", "\\frac{1}{2}")).passed).toBe(true);
    expect((await exact("\\boxed{0.5}", "\\frac{1}{2}")).passed).toBe(false);
    expect((await math.score(input("\\boxed{0.5}", "\\frac{1}{2}"), { seed: 0 })).passed).toBe(true);
    // A qa-style output without a box is graded as a whole.
    expect((await math.score(input("0.5", "\\frac{1}{2}"), { seed: 0 })).detail).toMatchObject({
      parsed_answer: "0.5",
      parsed: true,
      method: "none",
    });
  });

  it("the numeric check is seeded: every seed gives the same verdicts on the table", async () => {
    for (const seed of [1, 2, 3]) {
      for (const [a, b] of EQUAL.slice(-40)) expect(await mathEquivalent(a, b, { seed })).toBe(true);
      for (const [a, b] of NOT_EQUAL.slice(-40)) expect(await mathEquivalent(a, b, { seed })).toBe(false);
    }
  });
});

describe("grader defects found while building it", () => {
  it("defect: the list '99, 100' was read as the number 99100 (thousands separator)", async () => {
    expect(await mathEquivalent("99, 100", "100, 99")).toBe(true);
    expect(await mathEquivalent("99, 100", "99100")).toBe(false);
    expect(await mathEquivalent("1,234", "1, 234")).toBe(false);
  });
  it("defect: \\sqrt{-1} evaluated to -i (a negative zero flipped the branch cut)", async () => {
    expect(await mathEquivalent("\\sqrt{-1}", "i")).toBe(true);
    expect(await mathEquivalent("\\sqrt{-4}", "-2i")).toBe(false);
  });
  it("defect: the compute engine's canonical form gave 1/(1+i) = 0.707-0.707i; the written tree is evaluated instead", async () => {
    expect(await mathEquivalent("\\frac{1}{1+i}", "\\frac{1-i}{2}")).toBe(true);
    expect(await mathEquivalent("\\frac{1}{1+i}", "\\frac{\\sqrt{2}}{2}-\\frac{\\sqrt{2}}{2}i")).toBe(false);
  });
  it("defect: hostile answers (deep nesting, huge text) neither crash nor hang the grader", async () => {
    expect(await mathEquivalent(`${"(".repeat(20000)}1${")".repeat(20000)}`, "1")).toBe(false);
    expect(await mathEquivalent("9^{9^{9}}", "1")).toBe(false);
  });
});
