/**
 * Many-trial sweeps: K models (echo, each its own id) × 2 items, then the experiment report built
 * twice from the same files — comparisons against the baseline (the default, K − 1 pairs) and
 * every pair (`--all-pairs`, K(K−1)/2) — measuring wall time, peak RSS growth and the size of
 * comparison.json. Each report runs in a fresh process so the peaks do not mix.
 *
 *   npx tsx bench/comparisons.ts [--k 1000]
 */
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { timedCli } from "./cli-rss.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const k = arg("k", 1000);
const root = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "benchline-cmp-"));
const models = Array.from({ length: k }, (_, i) => `  - {id: m${i}, provider: ${i % 2 ? "echo" : "gold"}}`);
writeFileSync(
  join(dir, "data.jsonl"),
  '{"id": "a", "question": "1+1", "answer": "2"}\n{"id": "b", "question": "2+2", "answer": "4"}\n',
);
writeFileSync(
  join(dir, "exp.yaml"),
  `name: sweep\ntask: qa\ndataset: data.jsonl\nmodels:\n${models.join("\n")}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\ntrial_concurrency: 16\nstats: {iterations: 1000}\n`,
);
const cli = (args: string[]) => timedCli(root, dir, args);
const run = cli(["run", "exp.yaml", "--log", "json"]);
console.log(`run (${k} trials × 2 items, with its report): ${run.ms} ms, peak RSS ${run.peak_mb} MB`);
const results: Record<string, { ms: number; peak_mb: number; comparison_json_mb: number }> = {};
for (const mode of ["baseline", "all"] as const) {
  const r = cli(["report", "runs/sweep", ...(mode === "all" ? ["--all-pairs"] : [])]);
  const size = statSync(join(dir, "runs/sweep/comparison.json")).size;
  results[mode] = { ...r, comparison_json_mb: Number((size / 2 ** 20).toFixed(2)) };
}
const b = results.baseline!;
const a = results.all!;
console.log(
  `report, baseline comparisons (${k - 1}): ${b.ms} ms, peak RSS ${b.peak_mb} MB, comparison.json ${b.comparison_json_mb} MB`,
);
console.log(
  `report, all pairs (${(k * (k - 1)) / 2}): ${a.ms} ms, peak RSS ${a.peak_mb} MB, comparison.json ${a.comparison_json_mb} MB`,
);
console.log(
  JSON.stringify({
    bench: "comparisons",
    trials: k,
    baseline: b,
    all_pairs: a,
    ratio_all_to_baseline: {
      ms: Number((a.ms / b.ms).toFixed(2)),
      peak_mb: Number((a.peak_mb / b.peak_mb).toFixed(2)),
      comparison_json: Number((a.comparison_json_mb / b.comparison_json_mb).toFixed(1)),
    },
  }),
);
