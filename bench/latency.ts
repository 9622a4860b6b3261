/**
 * The CLI as a user runs it (`node bin/benchline.js run exp.yaml`, the built package; `npx`
 * excluded, node's own start-up included) against a loopback OpenAI-compatible server in its own
 * process, for several sizes, server latencies and concurrencies. Printed per configuration:
 *
 * - time to first request: from spawning the CLI to the server receiving its first request, and
 *   the CLI's CPU time by then (seen by a preloaded hook on undici's diagnostics channel; CPU is
 *   what holds on a machine that other jobs load);
 * - wall time of the whole command (reports included) and items/s;
 * - the server's busy window (first request arrives → last answer leaves) and the time from the last
 *   answer to the CLI's exit (the reports), how full the slots were
 *   kept over it (mean requests in flight ÷ concurrency; meaningful with latency) and the server
 *   process's CPU time over it (how busy a zero-latency server was kept);
 * - the CLI's peak RSS;
 * - the baseline of the same run: at 0 ms latency autocannon's raw rate on the same server
 *   (measured just before), at 100 ms the ideal rate concurrency ÷ latency; ratio = items/s over the
 *   wall time ÷ baseline, and over the busy window ÷ baseline.
 *
 *   npx tsx bench/latency.ts [--sizes 100,2000,20000] [--latencies 0,100] [--concurrency 64,256]
 *                            [--tsx] [--autocannon-seconds 3] [--baseline <checkout>]
 *
 * `--tsx` runs the sources through tsx instead of the build (`npm run build` first otherwise).
 * `--baseline <checkout>` runs another built checkout right after this one in every
 * configuration (a before/after pair under the same machine load). First printed: the start-up
 * alone, `benchline --help` beside `node -e 0`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startOpenAIServer } from "../src/providers/test-utils/openai-server.js";

const argv = process.argv.slice(2);
const list = (name: string, fallback: number[]): number[] => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? "").split(",").map(Number) : fallback;
};
const root = resolve(import.meta.dirname, "..");
const self = fileURLToPath(import.meta.url);
const round = (x: number, digits: number): number => Number(x.toFixed(digits));
/** Wall-clock milliseconds shared by both processes (sub-millisecond). */
const clock = (): number => performance.timeOrigin + performance.now();

interface Window {
  requests: number;
  first: number;
  last: number;
  /** ∫ in-flight dt over [first, last], in request·ms. */
  busy: number;
  /** The server's CPU time (user + system) since the reset, ms. */
  cpuMs: number;
}

if (argv.includes("--serve")) await serve();
else await main();

/** The server process: answers as the test server does, and keeps the timing of what it served. */
async function serve(): Promise<void> {
  const latencyMs = Number(argv[argv.indexOf("--latency") + 1] ?? 0);
  let window: Window = { requests: 0, first: 0, last: 0, busy: 0, cpuMs: 0 };
  let cpu = process.cpuUsage();
  let inFlight = 0;
  let changed = 0;
  const step = (delta: number): void => {
    const now = clock();
    if (inFlight > 0) window.busy += inFlight * (now - changed);
    changed = now;
    inFlight += delta;
    if (delta > 0) {
      if (window.requests++ === 0) window.first = now;
    } else window.last = now;
  };
  const server = await startOpenAIServer({
    latencyMs,
    trackPrompts: false,
    // Called once per request as it arrives; its answer's end is seen through the socket below.
    faults: () => {
      step(1);
      return undefined;
    },
  });
  // Count a request done when its response has been handed to the socket (finish).
  const original = http.ServerResponse.prototype.end;
  http.ServerResponse.prototype.end = function (this: http.ServerResponse, ...args: unknown[]) {
    const result = (original as (...a: unknown[]) => http.ServerResponse).apply(this, args);
    step(-1);
    return result;
  } as typeof original;
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "reset") {
      window = { requests: 0, first: 0, last: 0, busy: 0, cpuMs: 0 };
      cpu = process.cpuUsage();
    } else {
      const used = process.cpuUsage(cpu);
      window.cpuMs = (used.user + used.system) / 1000;
    }
    process.stdout.write(`${JSON.stringify(window)}\n`);
  }
  await server.close();
}

interface Server {
  url: string;
  process: ChildProcess;
  ask(command: "reset" | "stats"): Promise<Window>;
}

async function startServer(latency: number): Promise<Server> {
  const proc = spawn(process.execPath, [...process.execArgv, self, "--serve", "--latency", String(latency)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async <T>(): Promise<T> => {
    const line = await lines.next();
    if (line.done) throw new Error("server exited");
    return JSON.parse(line.value) as T;
  };
  const { url } = await next<{ url: string }>();
  return {
    url,
    process: proc,
    ask: (command) => {
      proc.stdin!.write(`${command}\n`);
      return next<Window>();
    },
  };
}

async function main(): Promise<void> {
  const sizes = list("sizes", [100, 2000, 20_000]);
  const latencies = list("latencies", [0, 100]);
  const concurrencies = list("concurrency", [64, 256]);
  const acSeconds = list("autocannon-seconds", [3])[0]!;
  const tsx = argv.includes("--tsx");
  const baselineAt = argv.indexOf("--baseline");
  const clis: [string, string[]][] = [["this", cliEntry(tsx ? undefined : root)]];
  if (baselineAt >= 0) clis.push(["baseline", cliEntry(resolve(argv[baselineAt + 1]!))]);
  console.log(
    `# CLI: ${tsx ? "sources through tsx" : "bin/benchline.js (dist)"}${baselineAt >= 0 ? `, baseline ${argv[baselineAt + 1]}` : ""}; ${cpus().length} CPUs; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  // Start-up alone: `benchline --help` against node doing nothing, wall and CPU, medians of 5.
  for (const [label, entry] of clis) {
    const help = startup([...entry, "--help"]);
    const bare = startup(["-e", "0"]);
    console.log(
      `${label}: benchline --help ${help.wall} s wall / ${help.cpu} s CPU; node -e 0 ${bare.wall} s / ${bare.cpu} s (medians of 5)`,
    );
  }
  const rows: string[] = [];
  for (const latency of latencies) {
    const server = await startServer(latency);
    try {
      for (const concurrency of concurrencies) {
        // The baseline of this configuration, measured now: what the server can do at all.
        const raw = latency === 0 ? await autocannon(server.url, acSeconds, concurrency) : undefined;
        await new Promise((r) => setTimeout(r, 1000)); // autocannon's last requests drain
        const ideal = latency === 0 ? raw! : (concurrency * 1000) / latency;
        for (const n of sizes) {
          for (const [label, entry] of clis) {
            await server.ask("reset");
            const run = await runCli(server.url, n, concurrency, entry);
            const window = await server.ask("stats");
            if (run.code !== 0) throw new Error(`${label}: benchline run exited ${run.code}`);
            if (window.requests !== n)
              throw new Error(`${label}: server saw ${window.requests} requests, expected ${n}`);
            const busyMs = window.last - window.first;
            const result = {
              bench: "latency",
              cli: label,
              items: n,
              latency_ms: latency,
              concurrency,
              first_request_s: round((window.first - run.started) / 1000, 3),
              first_request_cpu_s: run.firstCpuSeconds,
              wall_s: round(run.seconds, 2),
              items_per_s: Math.round(n / run.seconds),
              busy_window_s: round(busyMs / 1000, 2),
              // From the last answer leaving the server to the CLI's exit (reports, closing).
              after_last_answer_s: round((run.started + run.seconds * 1000 - window.last) / 1000, 3),
              slots_busy: round(window.busy / busyMs / concurrency, 2),
              server_cpu: round(window.cpuMs / busyMs, 2),
              baseline: latency === 0 ? "autocannon" : "ideal",
              baseline_req_per_s: Math.round(ideal),
              ratio_wall: round(n / run.seconds / ideal, 2),
              ratio_busy_window: round(n / (busyMs / 1000) / ideal, 2),
              cli_cpu_s: round(run.cpuSeconds, 2),
              peak_rss_mb: run.peakMb,
              load_average: round(loadavg()[0]!, 2),
            };
            console.log(JSON.stringify(result));
            rows.push(
              `| ${label} | ${n} | ${latency} | ${concurrency} | ${result.first_request_s} | ${result.first_request_cpu_s} | ${result.wall_s} | ${result.items_per_s} | ${result.busy_window_s} | ${result.after_last_answer_s} | ${result.slots_busy} | ${result.server_cpu} | ${result.baseline} ${result.baseline_req_per_s} | **${result.ratio_wall}** | ${result.ratio_busy_window} | ${result.cli_cpu_s} | ${result.peak_rss_mb} |`,
            );
          }
        }
      }
    } finally {
      server.process.kill("SIGTERM");
    }
  }
  console.log(
    "\n| CLI | items | latency ms | concurrency | first request s | CPU by then s | wall s | items/s | busy window s | after last answer s | slots busy | server CPU | baseline req/s | ratio (wall) | ratio (busy window) | CLI CPU s | peak RSS MB |",
  );
  console.log(
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const row of rows) console.log(row);
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
  entry: string[],
): Promise<{
  code: number | null;
  started: number;
  seconds: number;
  peakMb: number;
  cpuSeconds: number;
  firstCpuSeconds: number | null;
}> {
  const dir = mkdtempSync(join(tmpdir(), "benchline-latency-"));
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(JSON.stringify({ id: `q${i}`, question: `What is ${i} plus one?`, answer: String(i + 1) }));
  writeFileSync(join(dir, "data.jsonl"), `${lines.join("\n")}\n`);
  writeFileSync(
    join(dir, "exp.yaml"),
    `name: bench\ntask: qa\ndataset: data.jsonl\nmodels:\n  - {id: local, provider: vllm, model: tiny, base_url: "${url}"}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\nconcurrency: ${concurrency}\n`,
  );
  const started = clock();
  const child = spawn(
    process.execPath,
    ["--require", firstRequestHook(), ...entry, "run", "exp.yaml", "--no-cache", "--log", "plain"],
    {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  let peakKb = 0;
  let cpuTicks = 0;
  const poll = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
      // utime + stime (clock ticks of 10 ms), read until the last poll before exit.
      const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpuTicks = Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }, 20);
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  clearInterval(poll);
  const seconds = (clock() - started) / 1000;
  if (code !== 0) process.stderr.write(stderr);
  rmSync(dir, { recursive: true, force: true });
  const first = /BENCH_FIRST_REQUEST_CPU_MS ([\d.]+)/.exec(stderr);
  return {
    code,
    started,
    seconds,
    peakMb: Math.round(peakKb / 1024),
    cpuSeconds: cpuTicks / 100,
    firstCpuSeconds: first ? round(Number(first[1]) / 1000, 3) : null,
  };
}

/** A preload that prints the process's CPU time when undici sends its first request's headers. */
function firstRequestHook(): string {
  const path = join(tmpdir(), "benchline-latency-first-request.cjs");
  writeFileSync(
    path,
    `let seen = false;
require("node:diagnostics_channel").subscribe("undici:client:sendHeaders", () => {
  if (seen) return;
  seen = true;
  const u = process.cpuUsage();
  process.stderr.write("BENCH_FIRST_REQUEST_CPU_MS " + (u.user + u.system) / 1000 + "\\n");
});
`,
  );
  return path;
}

/** Node arguments that run a checkout's CLI: its `bin/benchline.js` (the build), or its sources through tsx. */
function cliEntry(checkout: string | undefined): string[] {
  if (checkout === undefined)
    return [
      "--import",
      pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
      join(root, "src/cli/bin.ts"),
    ];
  if (!existsSync(join(checkout, "dist/cli/bin.js")))
    throw new Error(`${checkout}: no dist/ — run \`npm run build\` there first`);
  return [join(checkout, "bin/benchline.js")];
}

/** Median wall and CPU seconds of five runs of `node <args>` (output discarded). */
function startup(args: string[]): { wall: number; cpu: number } {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S", process.execPath, ...args], { encoding: "utf8" });
    const [wall, user, sys] = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
    walls.push(wall!);
    cpus.push(user! + sys!);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[2]!;
  return { wall: median(walls), cpu: Number(median(cpus).toFixed(2)) };
}
