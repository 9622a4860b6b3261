/**
 * Hub dataset scale: `benchline run exp.yaml --phase prompts -m gold` with `dataset:
 * hf:bench/qa` served by a loopback hub (src/sources/test-utils/hub-server.ts) as one Parquet
 * file of N rows (default 1,000,000; row groups of 100,000) and, in the same run, of N/10 rows.
 * For each size, each in a fresh CLI process under `/usr/bin/time` (wall time, peak RSS):
 *   - `first`: download + Parquet → cached JSON Lines + the prompts phase;
 *   - `cached`: `--offline` into a fresh output directory: the prompts phase from the cache;
 *   - `local`: the same rows as a local JSON Lines file (the baseline: no hub).
 * Memory flat in the dataset's size shows as RSS(N) ÷ RSS(N/10) far below 10.
 *
 *   npx tsx bench/hub-dataset.ts [--n 1000000] [--baseline 100000]
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parquetWriteBuffer } from "hyparquet-writer";
import { startHubServer } from "../src/sources/test-utils/hub-server.js";

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const root = resolve(import.meta.dirname, "..");
const n = arg("n", 1_000_000);
const base = arg("baseline", Math.round(n / 10));

const question = (i: number) => `What is ${i} plus one?`;

function parquet(rows: number): Buffer {
  const ids = Array.from({ length: rows }, (_, i) => `q${i}`);
  return Buffer.from(
    parquetWriteBuffer({
      columnData: [
        { name: "id", data: ids, type: "STRING" },
        { name: "question", data: ids.map((_, i) => question(i)), type: "STRING" },
        { name: "answer", data: ids.map((_, i) => String(i + 1)), type: "STRING" },
      ],
      rowGroupSize: 100_000,
    }),
  );
}

async function jsonl(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < rows; i++) {
    const line = `${JSON.stringify({ id: `q${i}`, question: question(i), answer: String(i + 1) })}\n`;
    if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((r, reject) => out.end((error?: Error | null) => (error ? reject(error) : r())));
}

/** The CLI under /usr/bin/time, without blocking this process (it serves the hub). */
function timed(dir: string, args: string[], env: Record<string, string>): Promise<{ s: number; mb: number }> {
  const started = performance.now();
  const loader = pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href;
  const child = spawn(
    "/usr/bin/time",
    ["-f", "%M", process.execPath, "--import", loader, join(root, "src/cli/bin.ts"), ...args],
    { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((res, reject) =>
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${args.join(" ")} failed: ${stderr.slice(-2000)}`));
      const kb = Number(stderr.trim().split("\n").at(-1));
      res({ s: Number(((performance.now() - started) / 1000).toFixed(2)), mb: Math.round(kb / 1024) });
    }),
  );
}

const hub = await startHubServer({ pageSize: 100 });
type Row = { rows: number; parquet_mb: number; first: Timing; cached: Timing; local: Timing };
type Timing = { s: number; mb: number };
async function measure(rows: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "benchline-hub-bench-"));
  try {
    const file = parquet(rows);
    hub.push("datasets", `bench/qa-${rows}`, { "data/test-00000-of-00001.parquet": file });
    await jsonl(join(dir, "data.jsonl"), rows);
    const common = 'task: qa\nmodels: [gold]\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\n';
    writeFileSync(join(dir, "hub.yaml"), `name: hub\ndataset: hf:bench/qa-${rows}\n${common}`);
    writeFileSync(join(dir, "local.yaml"), `name: local\ndataset: data.jsonl\n${common}`);
    const env = { HF_ENDPOINT: hub.url, BENCHLINE_CACHE_DIR: join(dir, "cache"), HF_HUB_OFFLINE: "" };
    const args = ["--phase", "prompts", "-m", "gold", "--log", "json"];
    const first = await timed(dir, ["run", "hub.yaml", ...args], env);
    const cached = await timed(dir, ["run", "hub.yaml", ...args, "--offline", "--out", "runs-cached"], env);
    const local = await timed(dir, ["run", "local.yaml", ...args], env);
    return { rows, parquet_mb: Number((file.length / 2 ** 20).toFixed(1)), first, cached, local };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const small = await measure(base);
  const large = await measure(n);
  const ratio = (f: (r: Row) => number) => Number((f(large) / f(small)).toFixed(2));
  const result = {
    bench: "hub-dataset",
    command: "benchline run hub.yaml --phase prompts -m gold (dataset: hf:…, loopback hub)",
    baseline: small,
    measured: large,
    rss_ratio: {
      first: ratio((r) => r.first.mb),
      cached: ratio((r) => r.cached.mb),
      local: ratio((r) => r.local.mb),
    },
    machine: { nproc: cpus().length, memory_gb: Math.round(totalmem() / 2 ** 30) },
  };
  for (const r of [small, large])
    console.log(
      `${r.rows} rows (Parquet ${r.parquet_mb} MB): first ${r.first.s} s / ${r.first.mb} MB; ` +
        `cached ${r.cached.s} s / ${r.cached.mb} MB; local JSONL ${r.local.s} s / ${r.local.mb} MB`,
    );
  console.log(
    `peak RSS ${large.rows / small.rows}× rows: first ${result.rss_ratio.first}×, cached ${result.rss_ratio.cached}×, local ${result.rss_ratio.local}×`,
  );
  console.log(JSON.stringify(result));
} finally {
  await hub.close();
}
