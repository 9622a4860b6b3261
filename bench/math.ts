/**
 * MATH grading throughput on one core: the `math` scorer (extraction + equivalence) over typical
 * answer pairs — 70% that the fast path decides (integers, fractions, decimals, lists, intervals,
 * units), 20% expressions read by the built-in parser and checked at random points (radicals,
 * polynomials, π), 10% that need the compute engine (functions: ln, sin) — each pair with its
 * own numbers, so the parse cache does not flatter the result. Baseline, same run, same completions: the
 * `math_exact` scorer (extraction + Minerva string normalisation).
 *
 *   npx tsx bench/math.ts [--n 20000]
 */
import { cpus } from "node:os";
import type { Sample, ScoreInput } from "../src/core/index.js";
import { loadCas } from "../src/scoring/math/cas.js";
import { math, mathExact } from "../src/scoring/math/index.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const n = arg("n", 20_000);

type Pair = [pred: string, gold: string, cas: boolean];
const FAST: ((i: number) => [string, string])[] = [
  (i) => [`${i}`, `${i}`],
  (i) => [`\\dfrac{${i}}{${i + 1}}`, `\\frac{${i}}{${i + 1}}`],
  (i) => [`${i}.5`, `\\frac{${2 * i + 1}}{2}`],
  (i) => [`${i}, ${i + 1}`, `${i + 1}, ${i}`],
  (i) => [`\\left(${i}, ${i + 2}\\right]`, `(${i},${i + 2}]`],
  (i) => [`${i}\\text{ cm}`, `${i}`],
  (i) => [`${i}`, `${i + 1}`],
];
const CAS: ((i: number) => [string, string])[] = [
  (i) => [`${i}\\sqrt{2}`, `\\sqrt{${2 * i * i}}`],
  (i) => [`(x+${i})^2`, `x^2+${2 * i}x+${i * i}`],
  (i) => [`${i}\\ln(e^{x})`, `${i}x`], // compute engine
];

const pairs: Pair[] = [];
for (let i = 1; pairs.length < n; i++) {
  for (const f of FAST) pairs.push([...f(i), false]);
  for (const f of CAS) pairs.push([...f(i), true]);
}
pairs.length = n;
const inputs: ScoreInput[] = pairs.map(([pred, gold], k) => {
  const sample: Sample = { id: `p${k}`, input: { problem: "..." }, target: gold };
  const completion = `We simplify step by step. First, collect the terms; then reduce. Checking the result against the constraints, everything is consistent, so the final answer is $\\boxed{${pred}}$.`;
  return { sample, completion, artifact: completion };
});

const t0 = performance.now();
await loadCas();
const loadMs = performance.now() - t0;

async function time(label: string, run: (input: ScoreInput) => Promise<unknown> | unknown): Promise<number> {
  for (const input of inputs.slice(0, 200)) await run(input); // warm-up (JIT)
  const start = performance.now();
  let passed = 0;
  for (const input of inputs) {
    const r = (await run(input)) as { passed: boolean };
    if (r.passed) passed++;
  }
  const seconds = (performance.now() - start) / 1000;
  const rate = inputs.length / seconds;
  console.log(
    JSON.stringify({
      scorer: label,
      answers: inputs.length,
      seconds: Number(seconds.toFixed(3)),
      answers_per_s: Math.round(rate),
      passed,
    }),
  );
  return rate;
}

const exactRate = await time("math_exact (baseline)", (input) =>
  mathExact.score(input, { normalizer: "minerva" }),
);
const mathRate = await time("math", (input) => math.score(input, { seed: 0 }));
const casShare = pairs.filter((p) => p[2]).length / pairs.length;
console.log(
  `${cpus()[0]?.model ?? "cpu"} · Node ${process.version} · ${n} answers (${(casShare * 100).toFixed(0)}% expressions, a third of them through the compute engine; its load ${loadMs.toFixed(0)} ms, not timed)\n` +
    `math: ${Math.round(mathRate)} answers/s (target ≥ 1000) = ${(mathRate / exactRate).toFixed(3)}× math_exact (${Math.round(exactRate)} answers/s)`,
);
