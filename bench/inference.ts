/**
 * Inference throughput and memory of the remote-provider stack (openai provider + scheduler)
 * against the loopback test server, which runs in its own process.
 *
 *   npx tsx bench/inference.ts [--n 40000] [--rounds 3] [--memory-n 100000]
 *
 * (a) zero latency, concurrency 64: benchline (openai provider on undici + scheduler) beside
 *     autocannon on the same endpoint, in paired rounds (median ratio), with client CPU per request
 *     (steadier than rates on a busy machine);
 * (b) 100 ms latency, concurrency 256: benchline requests/s against the ideal 2560/s;
 * (c) peak RSS of a fresh process streaming `--memory-n` prompts through the stack.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { forEachConcurrent, type GenerateRequest } from "../src/core/index.js";
import { createOpenAIProvider } from "../src/providers/openai.js";
import { withScheduler } from "../src/providers/scheduler.js";
import { startOpenAIServer } from "../src/providers/test-utils/openai-server.js";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const self = fileURLToPath(import.meta.url);

interface Rate {
  /** Completed requests per second. */
  rate: number;
  /** Client CPU (user + system) per request, in microseconds. */
  cpuUs: number;
}

/** Prompts made one at a time, so memory does not grow with their number. */
function* prompts(count: number): Generator<GenerateRequest> {
  for (let i = 0; i < count; i++) {
    const text = `Question ${i}: what is ${i} + ${i}? Answer with a number.`;
    yield {
      messages: [{ role: "user", content: text }],
      prompt: text,
      n: 1,
      sampleIndices: [0],
      max_tokens: 16,
    };
  }
}

/** Runs `count` prompts through openai provider + scheduler at `concurrency`. */
async function runBenchline(url: string, count: number, concurrency: number): Promise<Rate> {
  const spec = {
    id: "bench",
    provider: "vllm",
    model: "tiny",
    params: {},
    options: { base_url: url, concurrency },
  };
  const provider = withScheduler(createOpenAIProvider(spec, { baseDir: ".", env: {} }), { concurrency });
  const signal = new AbortController().signal;
  const sample = { id: "x", input: {} };
  let ok = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await forEachConcurrent(prompts(count), concurrency, async (request) => {
    const generation = await provider.generate(request, { signal, sample });
    if (generation.completions.length === 1) ok++;
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await provider.close?.();
  if (ok !== count) throw new Error(`only ${ok}/${count} requests succeeded`);
  return { rate: count / seconds, cpuUs: (used.user + used.system) / count };
}

/**
 * autocannon hammering the same endpoint with the same body shape, for `seconds` (its `amount`
 * mode ends on a one-second sampling tick, which makes short runs look up to 2x slower or faster).
 */
async function runAutocannon(url: string, seconds: number, connections: number): Promise<Rate> {
  // autocannon ships no types: import it by a variable specifier and describe what we use.
  const specifier = "autocannon";
  const { default: autocannon } = (await import(specifier)) as {
    default: (opts: Record<string, unknown>) => Promise<{ "2xx": number; non2xx: number; duration: number }>;
  };
  const body = JSON.stringify({
    model: "tiny",
    messages: [{ role: "user", content: "Question 1: what is 1 + 1? Answer with a number." }],
    max_tokens: 16,
  });
  const cpu = process.cpuUsage();
  const result = await autocannon({
    url: `${url}/chat/completions`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    connections,
    duration: seconds,
  });
  const used = process.cpuUsage(cpu);
  if (result.non2xx > 0) throw new Error(`autocannon saw ${result.non2xx} non-2xx answers`);
  return { rate: result["2xx"] / result.duration, cpuUs: (used.user + used.system) / result["2xx"] };
}

/** Runs this file in a child process with `extra` arguments; resolves with its first stdout line. */
async function child<T>(extra: string[]): Promise<{ value: T; process: ChildProcess }> {
  const proc = spawn(process.execPath, [...process.execArgv, self, ...extra], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  for await (const line of createInterface({ input: proc.stdout! }))
    return { value: JSON.parse(line) as T, process: proc };
  throw new Error(`${extra.join(" ")}: printed nothing`);
}

const mb = (kb: number) => Math.round(kb / 1024);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const show = (r: Rate) => `${r.rate.toFixed(0)} req/s @ ${r.cpuUs.toFixed(0)} µs CPU/req`;

async function main(): Promise<void> {
  if (args.includes("--serve")) {
    const server = await startOpenAIServer({ latencyMs: flag("latency", 0), trackPrompts: false });
    process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
    process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
    return;
  }
  if (args.includes("--memory")) {
    const url = args[args.indexOf("--memory") + 1] as string;
    const baseMb = mb(process.resourceUsage().maxRSS);
    const result = await runBenchline(url, flag("memory-n", 100_000), 64);
    process.stdout.write(
      `${JSON.stringify({ ...result, baseMb, peakMb: mb(process.resourceUsage().maxRSS) })}\n`,
    );
    return;
  }

  const n = flag("n", 40_000);
  const fast = await child<{ url: string }>(["--serve", "--latency", "0"]);
  const slow = await child<{ url: string }>(["--serve", "--latency", "100"]);
  try {
    await runBenchline(fast.value.url, 5000, 64); // warm up both clients and the server
    await runAutocannon(fast.value.url, 1, 64);
    const rounds: { ours: Rate; raw: Rate }[] = [];
    const roundCount = flag("rounds", 3);
    for (let round = 0; round < roundCount; round++) {
      const ours = await runBenchline(fast.value.url, n, 64);
      rounds.push({ ours, raw: await runAutocannon(fast.value.url, 5, 64) });
    }
    console.log(
      `(a) zero latency, concurrency 64; benchline ${n} requests, autocannon 5 s; ${roundCount} paired rounds`,
    );
    for (const [i, { ours, raw }] of rounds.entries()) {
      const ratio = (ours.rate / raw.rate).toFixed(2);
      console.log(`    round ${i + 1}: benchline ${show(ours)} | autocannon ${show(raw)} | ratio ${ratio}`);
    }
    const ratio = median(rounds.map((r) => r.ours.rate / r.raw.rate));
    const cpuRatio = median(rounds.map((r) => r.raw.cpuUs / r.ours.cpuUs));
    console.log(
      `    median ratio ${ratio.toFixed(2)} (target >= 0.5); CPU per request, autocannon/benchline ${cpuRatio.toFixed(2)}`,
    );

    const latencyCount = 256 * 50; // 50 latency rounds: connection setup and ramp-up amortised
    await runBenchline(slow.value.url, 256 * 10, 256); // open the 256 connections, warm the server
    const latency = await runBenchline(slow.value.url, latencyCount, 256);
    console.log(`(b) 100 ms latency, concurrency 256, ${latencyCount} requests`);
    const share = ((latency.rate / 2560) * 100).toFixed(1);
    console.log(`    benchline ${show(latency)}; ideal 2560 req/s -> ${share}% (target >= 90%)`);

    const memoryCount = flag("memory-n", 100_000);
    const memory = (
      await child<Rate & { baseMb: number; peakMb: number }>([
        "--memory",
        fast.value.url,
        "--memory-n",
        String(memoryCount),
      ])
    ).value;
    console.log(`(c) ${memoryCount} prompts streamed at concurrency 64 in a fresh process`);
    console.log(
      `    peak RSS ${memory.peakMb} MB (${memory.baseMb} MB at start); ${show(memory)} (target < 300 MB)`,
    );
  } finally {
    fast.process.kill("SIGTERM");
    slow.process.kill("SIGTERM");
  }
}

await main();
