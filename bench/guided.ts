/**
 * Guided decoding: what consulting costs.
 *
 * Over HTTP (`--part http`): the text-level mode, where every step is one `/v1/completions` request.
 * Items of `--tokens` tokens against the loopback chain server (same process), 8 items in flight;
 * each configuration reported as tokens/s and as a ratio to plain generation of the same length
 * (one request per item) measured in the same run.
 *
 * In process (`--part process`): two embedded GGUF models (generated: the tiny test model, and the
 * same chains in a larger model whose compute weighs, `--sizes tiny,large`) whose chains never end,
 * so every item generates `--gen-tokens` tokens. Each configuration keeps its provider (models
 * loaded, warmed by one item) across `--rounds` rounds; a round times plain generation, then every
 * guided configuration, then plain again (the baseline is the mean of the two plain timings), so
 * all see the same load. Reported: the median, min and max over rounds of tokens/s ÷ plain, by
 * wall time and by the process's CPU time (user + system, llama.cpp's threads included).
 *
 *   npx tsx bench/guided.ts [--part all|http|process] [--items 200] [--tokens 64]
 *                           [--gen-items 8] [--gen-tokens 256] [--rounds 7] [--sizes tiny,large]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { forEachConcurrent, type ModelSpec, type Provider, type Sample } from "../src/core/index.js";
import { createProvider } from "../src/providers/index.js";
import { startChainServer } from "../src/providers/test-utils/chain-server.js";
import { writeTinyGguf } from "../src/providers/test-utils/tiny-gguf.js";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const items = flag("items", 200);
const tokens = flag("tokens", 64);
const part = args.includes("--part") ? args[args.indexOf("--part") + 1] : "all";
const env = { baseDir: process.cwd(), env: {} };
const request = (prompt: string, maxTokens: number, temperature?: number) => ({
  messages: [],
  prompt,
  n: 1,
  sampleIndices: [0],
  max_tokens: maxTokens,
  ...(temperature !== undefined ? { temperature } : {}),
});
const context = (id: string) => ({
  signal: new AbortController().signal,
  sample: { id, input: {}, metadata: {} } as Sample,
});

if (part === "all" || part === "http") await overHttp();
if (part === "all" || part === "process") await inProcess();

async function overHttp(): Promise<void> {
  const server = await startChainServer({ base: { prefix: " b" }, oracle: { prefix: "\nO" } });
  const entry = (model: string) => ({ provider: "vllm", model, base_url: server.url, mode: "completion" });
  async function rate(spec: ModelSpec): Promise<number> {
    const provider = createProvider(spec, env);
    const start = performance.now();
    let generated = 0;
    await forEachConcurrent(
      Array.from({ length: items }, (_, i) => i),
      8,
      async (i) => {
        const g = await provider.generate(request(`Q: ${i}\nA:`, tokens), context(String(i)));
        generated += g.usage?.completion_tokens ?? 0;
      },
    );
    await provider.close?.();
    return generated / ((performance.now() - start) / 1000);
  }

  const guided = (options: Record<string, unknown>): ModelSpec => ({
    id: "guided",
    provider: "guided",
    params: { seed: 1 },
    options: { base: entry("base"), oracle: entry("oracle"), max_new_tokens: tokens, ...options },
  });
  const configs: [string, ModelSpec][] = [
    ["guided c=0 step_size=tokens", guided({ c: 0, k: 0, step_size: tokens })],
    ["guided c=4 k=8 step_size=8 random", guided({ c: 4, k: 8, step_size: 8 })],
    ["guided c=4 k=8 step_size=1 random", guided({ c: 4, k: 8, step_size: 1 })],
  ];
  const serverOptions = { base_url: server.url, mode: "completion" };
  await rate({ id: "warm", provider: "vllm", model: "base", params: {}, options: serverOptions });
  const plain = await rate({
    id: "plain",
    provider: "vllm",
    model: "base",
    params: {},
    options: serverOptions,
  });
  console.log(
    JSON.stringify({ bench: "guided", config: "plain", tokens_per_s: Math.round(plain), items, tokens }),
  );
  console.log(`plain generation: ${plain.toFixed(0)} tokens/s (${items} items × ${tokens} tokens)`);
  for (const [name, spec] of configs) {
    const r = await rate(spec);
    const ratio = Number((r / plain).toFixed(2));
    console.log(
      JSON.stringify({ bench: "guided", config: name, tokens_per_s: Math.round(r), ratio_to_plain: ratio }),
    );
    console.log(`${name}: ${r.toFixed(0)} tokens/s, ${ratio}× plain`);
  }
  await server.close();
}

/** Median of a non-empty list. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function inProcess(): Promise<void> {
  const genItems = flag("gen-items", 8);
  const genTokens = flag("gen-tokens", 256);
  const rounds = flag("rounds", 7);
  const sizeArg = args.includes("--sizes") ? args[args.indexOf("--sizes") + 1] : "tiny,large";
  const sizes = {
    tiny: {},
    large: { width: 512, layers: 8 },
  } as const satisfies Record<string, { width?: number; layers?: number }>;
  const dir = mkdtempSync(join(tmpdir(), "benchline-guided-"));
  try {
    for (const size of (sizeArg ?? "").split(",") as (keyof typeof sizes)[]) {
      const shape = sizes[size];
      const contextLength = genTokens + 64;
      const base = await writeTinyGguf(join(dir, `${size}-base.gguf`), {
        cycle: true,
        contextLength,
        ...shape,
      });
      const oracle = await writeTinyGguf(join(dir, `${size}-oracle.gguf`), {
        cycle: true,
        step: 2,
        contextLength,
        ...shape,
      });
      const side = (model: string) => ({ provider: "llamacpp", model, mode: "completion", threads: 1 });
      const guided = (options: Record<string, unknown>): ModelSpec => ({
        id: "guided",
        provider: "guided",
        params: { temperature: 0 },
        options: { base: side(base), oracle: side(oracle), max_new_tokens: genTokens, ...options },
      });
      const q = Math.floor(genTokens / 4);
      const every = (gap: number) =>
        Array.from({ length: Math.floor(genTokens / gap) }, (_, i) => i * gap + Math.floor(gap / 2));
      const configs: [string, ModelSpec][] = [
        [
          "plain",
          {
            id: "plain",
            provider: "llamacpp",
            model: base,
            params: { temperature: 0 },
            options: { mode: "completion", threads: 1 },
          },
        ],
        ["token_level c=0", guided({ c: 0, k: 0, token_level: true })],
        [
          "token_level c=3 k=4 positions",
          guided({ c: 3, k: 4, policy: "positions", positions: [q, 2 * q, 3 * q], token_level: true }),
        ],
        [
          `token_level c=${every(16).length} k=4 (every 16 tokens)`,
          guided({ c: every(16).length, k: 4, policy: "positions", positions: every(16), token_level: true }),
        ],
        [
          `token_level c=${every(2).length} k=1 (every other token)`,
          guided({ c: every(2).length, k: 1, policy: "positions", positions: every(2), token_level: true }),
        ],
        [
          "text level c=3 k=4 positions",
          guided({ c: 3, k: 4, step_size: genTokens, policy: "positions", positions: [q, 2 * q, 3 * q] }),
        ],
      ];
      const providers = configs.map(([name, spec]) => ({ name, provider: createProvider(spec, env) }));
      let item = 0;
      /** Generates `genItems` items; returns tokens, wall seconds and CPU seconds. */
      const time = async (provider: Provider) => {
        const cpu = process.cpuUsage();
        const start = performance.now();
        let generated = 0;
        for (let i = 0; i < genItems; i++) {
          const g = await provider.generate(request(`Q${item++}: a`, genTokens, 0), context(String(item)));
          generated += g.usage?.completion_tokens ?? 0;
        }
        const wall = (performance.now() - start) / 1000;
        const used = process.cpuUsage(cpu);
        return { generated, wall, cpu: (used.user + used.system) / 1e6 };
      };
      for (const { provider } of providers)
        await provider.generate(request("Q: a", genTokens, 0), context("warm"));
      const ratios = new Map<string, { wall: number[]; cpu: number[]; rate: number[] }>();
      const plainRates: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const plain = providers[0]?.provider as Provider;
        const before = await time(plain);
        const runs = [];
        for (const { name, provider } of providers.slice(1)) runs.push({ name, ...(await time(provider)) });
        const after = await time(plain);
        const wallRate = (before.generated + after.generated) / (before.wall + after.wall);
        const cpuRate = (before.generated + after.generated) / (before.cpu + after.cpu);
        plainRates.push(wallRate);
        for (const run of runs) {
          if (run.generated !== genItems * genTokens)
            throw new Error(
              `${run.name}: generated ${run.generated} tokens, expected ${genItems * genTokens}`,
            );
          const entry = ratios.get(run.name) ?? { wall: [], cpu: [], rate: [] };
          entry.wall.push(run.generated / run.wall / wallRate);
          entry.cpu.push(run.generated / run.cpu / cpuRate);
          entry.rate.push(run.generated / run.wall);
          ratios.set(run.name, entry);
        }
      }
      for (const { provider } of providers) await provider.close?.();
      const f = (x: number) => x.toFixed(2);
      console.log(
        `\nin process, ${size} model (${genItems} items × ${genTokens} tokens per timing, ${rounds} rounds): plain ${median(plainRates).toFixed(0)} tokens/s (median)`,
      );
      console.log(
        JSON.stringify({
          bench: "guided-llamacpp",
          size,
          config: "plain",
          tokens_per_s: Math.round(median(plainRates)),
          genItems,
          genTokens,
          rounds,
        }),
      );
      for (const [name, r] of ratios) {
        const wall = median(r.wall);
        const cpu = median(r.cpu);
        console.log(
          `${name}: ${median(r.rate).toFixed(0)} tokens/s; ÷ plain wall ${f(wall)}× [${f(Math.min(...r.wall))}–${f(Math.max(...r.wall))}], cpu ${f(cpu)}× [${f(Math.min(...r.cpu))}–${f(Math.max(...r.cpu))}]`,
        );
        console.log(
          JSON.stringify({
            bench: "guided-llamacpp",
            size,
            config: name,
            tokens_per_s: Math.round(median(r.rate)),
            wall_ratio: Number(f(wall)),
            cpu_ratio: Number(f(cpu)),
            wall_ratios: r.wall.map((x) => Number(f(x))),
            cpu_ratios: r.cpu.map((x) => Number(f(x))),
          }),
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
