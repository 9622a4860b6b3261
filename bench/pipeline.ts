/**
 * Whole-pipeline benchmark: N qa items through `benchline run` (prompts → inference → scores →
 * reports) against a zero-latency loopback OpenAI-compatible server, measuring wall time and the
 * CLI's peak RSS, beside autocannon on the same server in the same run (before and after the
 * CLI; their mean is the baseline). The ratio, CLI items/s ÷ autocannon requests/s, is the
 * figure to compare across machines.
 *
 *   npx tsx bench/pipeline.ts [--n 20000] [--concurrency 64] [--rounds 1] [--dist] [-- <run flags>]
 *
 * `--dist` runs the built CLI (`dist/cli/bin.js`, `npm run build` first), as `npx benchline`
 * does, instead of the sources through tsx (tsx adds its start-up and transform cost).
 * `--baseline <checkout>` also runs another built checkout's CLI in each round, right after this
 * one, for a paired before/after on the same machine state.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startOpenAIServer } from "../src/providers/test-utils/openai-server.js";

const argv = process.argv.slice(2);
const ownArgs = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
const runFlags = argv.includes("--") ? argv.slice(argv.indexOf("--") + 1) : [];
const arg = (name: string, fallback: number): number => {
  const i = ownArgs.indexOf(`--${name}`);
  return i >= 0 ? Number(ownArgs[i + 1]) : fallback;
};
const root = resolve(import.meta.dirname, "..");
const self = fileURLToPath(import.meta.url);

if (ownArgs.includes("--serve")) {
  // The server runs in its own process, so neither autocannon nor the CLI shares its thread.
  const server = await startOpenAIServer({ trackPrompts: false });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const n = arg("n", 20_000);
  const concurrency = arg("concurrency", 64);
  const rounds = arg("rounds", 1);
  const dist = ownArgs.includes("--dist");
  const baselineAt = ownArgs.indexOf("--baseline");
  const baselineDir = baselineAt >= 0 ? ownArgs[baselineAt + 1] : undefined;
  const server = await serve();
  try {
    await autocannon(server.url, 1, concurrency); // warm the server
    const results = [];
    for (let round = 0; round < rounds; round++) {
      const before = await autocannon(server.url, 5, concurrency);
      const run = await runCli(server.url, n, concurrency, dist ? join(root, "dist/cli/bin.js") : undefined);
      const after = await autocannon(server.url, 5, concurrency);
      const baseline = (before + after) / 2;
      const result = {
        bench: "pipeline",
        items: n,
        concurrency,
        cli: dist ? "dist" : "tsx",
        exit_code: run.code,
        seconds: Number(run.seconds.toFixed(2)),
        items_per_s: Math.round(n / run.seconds),
        autocannon_req_per_s: Math.round(baseline),
        autocannon_before_after: [Math.round(before), Math.round(after)],
        ratio: Number((n / run.seconds / baseline).toFixed(2)),
        peak_rss_mb: run.peakMb,
        /** CLI CPU (user + system) per item, read from /proc until its last 50 ms. */
        cli_cpu_us_per_item: Math.round((run.cpuSeconds / n) * 1e6),
        machine: { nproc: cpus().length, memory_gb: Math.round(totalmem() / 2 ** 30) },
      };
      if (baselineDir) {
        const other = await runCli(server.url, n, concurrency, join(resolve(baselineDir), "dist/cli/bin.js"));
        Object.assign(result, {
          baseline: {
            checkout: baselineDir,
            exit_code: other.code,
            seconds: Number(other.seconds.toFixed(2)),
            items_per_s: Math.round(n / other.seconds),
            ratio: Number((n / other.seconds / baseline).toFixed(2)),
            cli_cpu_us_per_item: Math.round((other.cpuSeconds / n) * 1e6),
          },
        });
      }
      results.push(result);
      console.log(JSON.stringify(result));
      console.log(
        `round ${round + 1}: ${n} items end to end in ${result.seconds} s (${result.items_per_s} items/s); autocannon ${result.autocannon_req_per_s} req/s on the same server; ratio ${result.ratio} (target >= 0.5); CLI peak RSS ${result.peak_rss_mb} MB`,
      );
      console.log(`         CLI CPU ${result.cli_cpu_us_per_item} µs per item`);
      const b = (
        result as {
          baseline?: { seconds: number; items_per_s: number; ratio: number; cli_cpu_us_per_item: number };
        }
      ).baseline;
      if (b)
        console.log(
          `         baseline ${baselineDir}: ${b.seconds} s (${b.items_per_s} items/s), ratio ${b.ratio}, CLI CPU ${b.cli_cpu_us_per_item} µs per item`,
        );
      if (run.code !== 0) throw new Error(`benchline run exited ${run.code}`);
    }
    if (rounds > 1) {
      const ratios = results.map((r) => r.ratio).sort((a, b) => a - b);
      console.log(`median ratio ${ratios[Math.floor(ratios.length / 2)]} over ${rounds} rounds`);
    }
  } finally {
    server.process.kill("SIGTERM");
  }
}

async function serve(): Promise<{ url: string; process: ChildProcess }> {
  const proc = spawn(process.execPath, [...process.execArgv, self, "--serve"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  for await (const line of createInterface({ input: proc.stdout! }))
    return { url: (JSON.parse(line) as { url: string }).url, process: proc };
  throw new Error("server printed nothing");
}

/** autocannon's requests/s against the chat endpoint with a body like the CLI's. */
async function autocannon(url: string, seconds: number, connections: number): Promise<number> {
  // autocannon ships no types: import it by a variable specifier and describe what we use.
  const specifier = "autocannon";
  const { default: run } = (await import(specifier)) as {
    default: (opts: Record<string, unknown>) => Promise<{ "2xx": number; non2xx: number; duration: number }>;
  };
  const result = await run({
    url: `${url}/chat/completions`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "What is 1 plus one?" }] }),
    connections,
    duration: seconds,
  });
  if (result.non2xx > 0) throw new Error(`autocannon saw ${result.non2xx} non-2xx answers`);
  return result["2xx"] / result.duration;
}

async function runCli(
  url: string,
  n: number,
  concurrency: number,
  /** A built CLI (`…/dist/cli/bin.js`); default: this checkout's sources through tsx. */
  bin: string | undefined,
): Promise<{ code: number | null; seconds: number; peakMb: number; cpuSeconds: number }> {
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
    `name: bench\ntask: qa\ndataset: data.jsonl\nmodels:\n  - {id: local, provider: vllm, model: tiny, base_url: "${url}"}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\nconcurrency: ${concurrency}\nstats: {iterations: 1000}\n`,
  );
  if (bin && !existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` there first`);
  const entry = bin
    ? [bin]
    : [
        "--import",
        pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
        join(root, "src/cli/bin.ts"),
      ];
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [...entry, "run", "exp.yaml", "--no-cache", "--log", "plain", ...runFlags],
    { cwd: dir, stdio: ["ignore", "ignore", "inherit"] },
  );
  let peakKb = 0;
  let cpuTicks = 0;
  const poll = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
      // utime + stime (fields 14 and 15, in clock ticks of 10 ms) — the steadier figure on a busy machine.
      const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpuTicks = Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }, 50);
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  clearInterval(poll);
  const seconds = (performance.now() - started) / 1000;
  rmSync(dir, { recursive: true, force: true });
  return { code, seconds, peakMb: Math.round(peakKb / 1024), cpuSeconds: cpuTicks / 100 };
}
