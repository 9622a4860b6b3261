/**
 * Whole-pipeline benchmark: N qa items through `benchline run` (prompts → inference → scores →
 * reports) against a loopback OpenAI-compatible server, measuring wall time and the CLI's peak RSS.
 *
 *   npx tsx bench/pipeline.ts [--n 100000] [--concurrency 64]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startOpenAIServer } from "../src/providers/test-utils/openai-server.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const n = arg("n", 100_000);
const concurrency = arg("concurrency", 64);
const root = resolve(import.meta.dirname, "..");

const server = await startOpenAIServer({ trackPrompts: false });
const dir = mkdtempSync(join(tmpdir(), "benchline-bench-"));
const lines: string[] = [];
for (let i = 0; i < n; i++)
  lines.push(
    JSON.stringify({
      id: `q${i}`,
      question: `What is ${i} plus one?`,
      answer: String(i + 1),
      category: `c${i % 10}`,
    }),
  );
writeFileSync(join(dir, "data.jsonl"), `${lines.join("\n")}\n`);
writeFileSync(
  join(dir, "exp.yaml"),
  `name: bench\ntask: qa\ndataset: data.jsonl\nmodels:\n  - {id: local, provider: vllm, model: tiny, base_url: "${server.url}"}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\nconcurrency: ${concurrency}\nstats: {iterations: 1000}\n`,
);

const started = performance.now();
const child = spawn(
  process.execPath,
  [
    "--import",
    pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
    join(root, "src/cli/bin.ts"),
    "run",
    "exp.yaml",
    "--no-cache",
    "--log",
    "plain",
    ...process.argv.slice(process.argv.indexOf("--") + 1 || process.argv.length),
  ],
  { cwd: dir, stdio: ["ignore", "ignore", "inherit"] },
);
let peakKb = 0;
const poll = setInterval(() => {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
    if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
  } catch {
    // exited
  }
}, 100);
const code = await new Promise<number | null>((r) => child.on("exit", r));
clearInterval(poll);
const seconds = (performance.now() - started) / 1000;
await server.close();
const result = {
  bench: "pipeline",
  items: n,
  concurrency,
  exit_code: code,
  seconds: Number(seconds.toFixed(1)),
  items_per_s: Math.round(n / seconds),
  peak_rss_mb: Math.round(peakKb / 1024),
  machine: { nproc: cpus().length, memory_gb: Math.round(totalmem() / 2 ** 30) },
};
console.log(JSON.stringify(result));
console.log(
  `${n} items end to end in ${result.seconds} s (${result.items_per_s} items/s), CLI peak RSS ${result.peak_rss_mb} MB`,
);
