/**
 * Long prompts: one item whose question is 1 MB, 2 MB or 4 MB, through the whole pipeline in
 * process (prompts → inference with the echo model, whose completion is the whole prompt →
 * scores → reports; no CLI start-up in the timing). Time must grow linearly with the prompt's
 * length: each size is reported as a ratio to the first size of the same invocation (linear ≈ 4×
 * for 4 MB against 1 MB; the JSONL reader this replaced rescanned the line per 64 KB chunk).
 *
 *   npx tsx bench/long-prompt.ts [--sizes 1,2,4] [--rounds 3]
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadExperiment } from "../src/config/index.js";
import { readJsonl } from "../src/core/jsonl.js";
import { resolveExperiment, runExperiment } from "../src/pipeline/index.js";

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const sizes = arg("sizes", "1,2,4").split(",").map(Number);
const rounds = Number(arg("rounds", "3"));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: { mb: number; run_ms: number; read_ms: number }[] = [];
for (const mb of sizes) {
  const runs: number[] = [];
  const reads: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), "benchline-long-"));
    const question = "word ".repeat((mb << 20) / 5);
    writeFileSync(join(dir, "data.jsonl"), `${JSON.stringify({ id: "long", question, answer: "x" })}\n`);
    writeFileSync(
      join(dir, "exp.yaml"),
      'name: long\ntask: qa\ndataset: data.jsonl\nmodels: [echo]\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\nstats: {iterations: 100}\n',
    );
    // The reader alone (every phase streams its JSONL files through it).
    let started = performance.now();
    for await (const _ of readJsonl(join(dir, "data.jsonl"))) {
    }
    reads.push(performance.now() - started);
    started = performance.now();
    const exp = await resolveExperiment(loadExperiment(join(dir, "exp.yaml")), {
      out: join(dir, "runs"),
    });
    await runExperiment(exp, { cacheDir: false });
    runs.push(performance.now() - started);
  }
  results.push({ mb, run_ms: Math.round(median(runs)), read_ms: Math.round(median(reads)) });
}
const base = results[0]!;
for (const r of results) {
  const line = {
    bench: "long-prompt",
    prompt_mb: r.mb,
    run_ms: r.run_ms,
    read_ms: r.read_ms,
    run_ratio_to_first: Number((r.run_ms / base.run_ms).toFixed(2)),
    read_ratio_to_first: Number((r.read_ms / base.read_ms).toFixed(2)),
  };
  console.log(
    `${r.mb} MB prompt: pipeline ${r.run_ms} ms (${line.run_ratio_to_first}× the ${base.mb} MB run), JSONL read ${r.read_ms} ms (${line.read_ratio_to_first}×)`,
  );
  console.log(JSON.stringify(line));
}
