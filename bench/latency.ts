/**
 * The CLI as a user runs it (`node bin/benchline.js run exp.yaml`, the built package; `npx`
 * excluded, node's own start-up included) against a loopback OpenAI-compatible server in its own
 * process, for several sizes, server latencies and concurrencies. Printed per configuration:
 *
 * - time to first request: from spawning the CLI to the server receiving its first request, and
 *   the CLI's CPU time by then (seen by a preloaded hook on the HTTP clients' diagnostics
 *   channels; CPU is what holds on a machine that other jobs load);
 * - wall time of the whole command (reports included) and items/s;
 * - the server's busy window (first request arrives → last answer leaves) and the time from the last
 *   answer to the CLI's exit (the reports), how full the slots were
 *   kept over it (mean requests in flight ÷ concurrency; meaningful with latency), over its first
 *   second and over the rest, and the server process's CPU time over it (how busy a zero-latency
 *   server was kept);
 * - where the time between requests went, from every request the server saw: the latency it
 *   actually served (arrival → answer; a timer fires late), and per connection the time from an
 *   answer leaving to that connection's next request arriving (the client's turnaround);
 * - the CLI's peak RSS;
 * - the baseline of the same run: at 0 ms latency autocannon's raw rate on the same server
 *   (measured just before), at 100 ms the ideal rate concurrency ÷ latency; ratio = items/s over the
 *   wall time ÷ baseline, and over the busy window ÷ baseline; with latency, also over the wall
 *   time ÷ (concurrency ÷ the latency served).
 *
 * Beside the CLI, in every configuration, the floors: a minimal client of a few lines over undici,
 * and one over node's own HTTP client, reading the same files and sending the same requests
 * (`--no-floors` leaves them out). Before a server's first configuration an unmeasured pass of
 * the undici client warms the server's own code.
 *
 *   npx tsx bench/latency.ts [--sizes 100,2000,20000] [--latencies 0,100] [--concurrency 64,256]
 *                            [--tsx] [--autocannon-seconds 3] [--baseline <checkout>] [--no-floors]
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
  /** Where the time between requests went (see TraceSummary). */
  trace?: TraceSummary;
}

interface TraceSummary {
  /** Mean time the server held a request (arrival → answer), ms: the latency actually served. */
  hold_ms: number;
  /** Per connection, answer → that connection's next request (the client's turnaround), ms. */
  gap_ms: { mean: number; p50: number; p90: number; p99: number };
  /** Mean requests in flight ÷ concurrency over the first second and over the rest but the last second. */
  fill_first_s: number;
  fill_steady: number;
  /** Requests in flight at each 100 ms from the first arrival, over the first second. */
  ramp: number[];
}

/** Where the busy window's time went, from every request's arrival and answer. */
function summarize(arrivals: number[], answers: number[], gaps: number[], concurrency: number): TraceSummary {
  const n = arrivals.length;
  let hold = 0;
  for (let i = 0; i < n; i++) hold += (answers[i] ?? 0) - arrivals[i]!;
  const sortedGaps = Float64Array.from(gaps).sort();
  const q = (p: number): number =>
    round(sortedGaps[Math.min(sortedGaps.length - 1, Math.floor(p * sortedGaps.length))] ?? 0, 2);
  const first = arrivals[0]!;
  const last = answers[answers.length - 1]!;
  const ends = Float64Array.from(answers).sort();
  // ∫ in-flight over [a, b]: each request contributes its overlap with the interval.
  const fill = (a: number, b: number): number => {
    let area = 0;
    for (let i = 0; i < n; i++) area += Math.max(0, Math.min(answers[i]!, b) - Math.max(arrivals[i]!, a));
    return round(area / (b - a) / concurrency, 3);
  };
  const ramp: number[] = [];
  for (let t = 0; t <= 1000; t += 100) {
    const at = first + t;
    let started = 0;
    while (started < n && arrivals[started]! <= at) started++;
    let ended = 0;
    while (ended < ends.length && ends[ended]! <= at) ended++;
    ramp.push(started - ended);
  }
  return {
    hold_ms: round(hold / n, 2),
    gap_ms: {
      mean: round(gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length), 2),
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
    },
    fill_first_s: fill(first, first + 1000),
    fill_steady: last - first > 3000 ? fill(first + 1000, last - 1000) : Number.NaN,
    ramp,
  };
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
  // Every request's arrival and answer, and per connection the gap from an answer to its next request.
  const trace = { arrivals: [] as number[], answers: [] as number[], gaps: [] as number[] };
  const lastAnswer = new Map<number, number>();
  const step = (delta: number, socket?: number): void => {
    const now = clock();
    if (socket !== undefined) {
      if (delta > 0) {
        trace.arrivals.push(now);
        const before = lastAnswer.get(socket);
        if (before !== undefined) trace.gaps.push(now - before);
      } else {
        trace.answers.push(now);
        lastAnswer.set(socket, now);
      }
    }
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
    faults: (context) => {
      step(1, context.remotePort);
      return undefined;
    },
  });
  // Count a request done when its response has been handed to the socket (finish).
  const original = http.ServerResponse.prototype.end;
  http.ServerResponse.prototype.end = function (this: http.ServerResponse, ...args: unknown[]) {
    const result = (original as (...a: unknown[]) => http.ServerResponse).apply(this, args);
    step(-1, this.socket?.remotePort);
    return result;
  } as typeof original;
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "reset") {
      window = { requests: 0, first: 0, last: 0, busy: 0, cpuMs: 0 };
      trace.arrivals = [];
      trace.answers = [];
      trace.gaps = [];
      lastAnswer.clear();
      cpu = process.cpuUsage();
    } else {
      const used = process.cpuUsage(cpu);
      window.cpuMs = (used.user + used.system) / 1000;
      const concurrency = Number(line.split(" ")[1]);
      if (trace.arrivals.length > 0)
        window.trace = summarize(trace.arrivals, trace.answers, trace.gaps, concurrency);
    }
    process.stdout.write(`${JSON.stringify(window)}\n`);
  }
  await server.close();
}

interface Server {
  url: string;
  process: ChildProcess;
  ask(command: "reset" | `stats ${number}`): Promise<Window>;
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
  // What a client can do here at all: a few lines over undici, and over node's own client.
  if (!argv.includes("--no-floors"))
    clis.push(["floor: undici", [minimalClient("undici")]], ["floor: node:http", [minimalClient("node")]]);
  console.log(
    `# CLI: ${tsx ? "sources through tsx" : "bin/benchline.js (dist)"}${baselineAt >= 0 ? `, baseline ${argv[baselineAt + 1]}` : ""}; ${cpus().length} CPUs; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  // Start-up alone: `benchline --help` against node doing nothing, wall and CPU, medians of 5.
  for (const [label, entry] of clis.filter(([name]) => !name.startsWith("floor"))) {
    const help = startup([...entry, "--help"]);
    const bare = startup(["-e", "0"]);
    console.log(
      `${label}: benchline --help ${help.wall} s wall / ${help.cpu} s CPU; node -e 0 ${bare.wall} s / ${bare.cpu} s (medians of 5)`,
    );
  }
  const rows: string[] = [];
  for (const latency of latencies) {
    const server = await startServer(latency);
    // A server process just started runs its own code cold for its first thousands of requests
    // (measured: 0.5 ms more held a request in the first configuration than in the next): a
    // minimal client's unmeasured pass warms it, so the first CLI measured is not charged for it.
    await runCli(server.url, 4000, concurrencies[0]!, [minimalClient("undici")]);
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
            const window = await server.ask(`stats ${concurrency}`);
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
              // Over the first second of the busy window, and from then to a second before its end.
              slots_busy_first_s: window.trace?.fill_first_s ?? null,
              slots_busy_after: window.trace?.fill_steady ?? null,
              // The latency the server actually served (arrival → answer), and per connection the
              // time from an answer leaving to the next request arriving (the client's turnaround).
              served_latency_ms: window.trace?.hold_ms ?? null,
              turnaround_ms: window.trace?.gap_ms ?? null,
              // Requests in flight at each 100 ms of the first second.
              ramp: window.trace?.ramp ?? null,
              server_cpu: round(window.cpuMs / busyMs, 2),
              baseline: latency === 0 ? "autocannon" : "ideal",
              baseline_req_per_s: Math.round(ideal),
              ratio_wall: round(n / run.seconds / ideal, 2),
              // The ideal at the latency served (concurrency ÷ served latency): the client's share alone.
              ratio_wall_served:
                latency > 0 && window.trace
                  ? round(n / run.seconds / ((concurrency * 1000) / window.trace.hold_ms), 2)
                  : null,
              ratio_busy_window: round(n / (busyMs / 1000) / ideal, 2),
              cli_cpu_s: round(run.cpuSeconds, 2),
              peak_rss_mb: run.peakMb,
              load_average: round(loadavg()[0]!, 2),
            };
            console.log(JSON.stringify(result));
            rows.push(
              `| ${label} | ${n} | ${latency} | ${concurrency} | ${result.first_request_s} | ${result.first_request_cpu_s} | ${result.wall_s} | ${result.items_per_s} | ${result.busy_window_s} | ${result.after_last_answer_s} | ${result.slots_busy} | ${result.slots_busy_first_s ?? "-"} / ${result.slots_busy_after ?? "-"} | ${result.turnaround_ms ? `${result.turnaround_ms.p50} / ${result.turnaround_ms.p90}` : "-"} | ${result.served_latency_ms ?? "-"} | ${result.server_cpu} | ${result.baseline} ${result.baseline_req_per_s} | **${result.ratio_wall}** | ${result.ratio_wall_served ?? "-"} | ${result.ratio_busy_window} | ${result.cli_cpu_s} | ${result.peak_rss_mb} |`,
            );
          }
        }
      }
    } finally {
      server.process.kill("SIGTERM");
    }
  }
  console.log(
    "\n| CLI | items | latency ms | concurrency | first request s | CPU by then s | wall s | items/s | busy window s | after last answer s | slots busy | slots busy: first s / after | answer → next request ms (median / p90) | served latency ms | server CPU | baseline req/s | ratio (wall) | ratio (wall) at served latency | ratio (busy window) | CLI CPU s | peak RSS MB |",
  );
  console.log(
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
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

/**
 * A preload that prints the process's CPU time when its first request is made: node's client
 * (`http.client.request.start`) or undici's (`undici:client:sendHeaders`), whichever comes first.
 */
function firstRequestHook(): string {
  const path = join(tmpdir(), "benchline-latency-first-request.cjs");
  writeFileSync(
    path,
    `let seen = false;
const first = () => {
  if (seen) return;
  seen = true;
  const u = process.cpuUsage();
  process.stderr.write("BENCH_FIRST_REQUEST_CPU_MS " + (u.user + u.system) / 1000 + "\\n");
};
const channels = require("node:diagnostics_channel");
channels.subscribe("undici:client:sendHeaders", first);
channels.subscribe("http.client.request.start", first);
`,
  );
  return path;
}

/**
 * A minimal client as anyone would write it against the same server: reads exp.yaml's base_url
 * and concurrency and the dataset's questions, sends each as a chat request with one connection a
 * slot, and parses the answer; no records, no scoring, no files written. Over undici's `request`,
 * or over node's own `http.request` with a keep-alive agent.
 */
function minimalClient(kind: "undici" | "node"): string {
  const path = join(tmpdir(), `benchline-latency-${kind}.mjs`);
  const common = `import { readFileSync } from "node:fs";
const exp = readFileSync("exp.yaml", "utf8");
const url = /base_url: "([^"]+)"/.exec(exp)[1] + "/chat/completions";
const concurrency = Number(/concurrency: (\\d+)/.exec(exp)[1]);
const questions = readFileSync("data.jsonl", "utf8").split("\\n").filter(Boolean).map((l) => JSON.parse(l).question);
let next = 0;
async function slot() {
  while (next < questions.length) {
    const body = JSON.stringify({ model: "tiny", messages: [{ role: "user", content: questions[next++] }] });
    const [status, answer] = await post(body);
    if (status !== 200 || !answer.choices) throw new Error("bad answer " + status);
  }
}
`;
  const undici = `import { Agent, request } from ${JSON.stringify(pathToFileURL(join(root, "node_modules/undici/index.js")).href)};
${common}const agent = new Agent({ connections: concurrency });
const post = async (body) => {
  const res = await request(url, { method: "POST", dispatcher: agent, headers: { "content-type": "application/json" }, body });
  return [res.statusCode, await res.body.json()];
};
await Promise.all(Array.from({ length: concurrency }, slot));
await agent.close();
`;
  const node = `import http from "node:http";
${common}const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const post = (body) => new Promise((resolve, reject) => {
  const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (chunk) => (text += chunk));
    res.on("end", () => resolve([res.statusCode, JSON.parse(text)]));
  });
  req.on("error", reject);
  req.end(body);
});
await Promise.all(Array.from({ length: concurrency }, slot));
agent.destroy();
`;
  writeFileSync(path, kind === "undici" ? undici : node);
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
