/**
 * Batch API inference at scale: `benchline run` of N qa items through a loopback Files/Batches
 * server (`batch: true`), next to the same items sent live to a loopback OpenAI-compatible server
 * (the baseline, same run, both with zero model latency): wall time and peak RSS of each CLI
 * process (`/usr/bin/time`), and of a rerun that finds the batch trial complete.
 *
 *   npx tsx bench/batch.ts [--n 20000]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startBatchServer } from "../src/providers/test-utils/batch-server.js";
import { startOpenAIServer } from "../src/providers/test-utils/openai-server.js";

const argv = process.argv.slice(2);
const at = argv.indexOf("--n");
const n = at >= 0 ? Number(argv[at + 1]) : 20_000;
const root = resolve(import.meta.dirname, "..");

function setup(model: string): string {
  const dir = mkdtempSync(join(tmpdir(), "benchline-batch-"));
  const rows = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: `q${i}`, question: `What is ${i} plus one?`, answer: String(i + 1) }),
  );
  writeFileSync(join(dir, "data.jsonl"), `${rows.join("\n")}\n`);
  writeFileSync(
    join(dir, "exp.yaml"),
    `name: b\ntask: qa\ndataset: data.jsonl\nconcurrency: 32\nmodels:\n  - ${model}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\n`,
  );
  return dir;
}

/** Runs the CLI without blocking this process (the servers live here). */
function cli(dir: string): Promise<{ seconds: number; peak_mb: number }> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(
      "/usr/bin/time",
      [
        "-f",
        "%M",
        process.execPath,
        "--import",
        pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
        join(root, "src/cli/bin.ts"),
        "run",
        "exp.yaml",
        "--no-cache",
      ],
      { cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("close", (code) => {
      if (code !== 0) return fail(new Error(stderr.slice(-2000)));
      const kb = Number(stderr.trim().split("\n").at(-1));
      done({
        seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
        peak_mb: Math.round(kb / 1024),
      });
    });
  });
}

const live = await startOpenAIServer({ trackPrompts: false });
const batch = await startBatchServer({ scenario: () => ({ polls: 1 }) });
try {
  const liveDir = setup(`{id: m, provider: vllm, model: tiny, base_url: "${live.url}"}`);
  const batchDir = setup(
    `{id: m, provider: vllm, model: tiny, base_url: "${batch.url}", batch: {poll_interval: 0.2}}`,
  );
  const baseline = await cli(liveDir);
  const batched = await cli(batchDir);
  const rerun = await cli(batchDir);
  console.log(
    JSON.stringify(
      {
        items: n,
        cpus: cpus().length,
        live: baseline,
        batch: {
          ...batched,
          batches: batch.stats.created,
          ratio_to_live: Number((batched.seconds / baseline.seconds).toFixed(2)),
        },
        batch_rerun_complete: rerun,
      },
      null,
      2,
    ),
  );
  rmSync(liveDir, { recursive: true, force: true });
  rmSync(batchDir, { recursive: true, force: true });
} finally {
  await live.close();
  await batch.close();
}
