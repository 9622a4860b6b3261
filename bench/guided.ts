/**
 * Guided decoding over HTTP: what consulting costs in the text-level mode, where every step is one
 * `/v1/completions` request. Items of `--tokens` tokens against the loopback chain server (same
 * process), 8 items in flight; each configuration reported as tokens/s and as a ratio to plain
 * generation of the same length (one request per item) measured in the same run.
 *
 *   npx tsx bench/guided.ts [--items 200] [--tokens 64]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { forEachConcurrent, type ModelSpec, type Sample } from "../src/core/index.js";
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

const server = await startChainServer({ base: { prefix: " b" }, oracle: { prefix: "\nO" } });
const entry = (model: string) => ({ provider: "vllm", model, base_url: server.url, mode: "completion" });
const env = { baseDir: process.cwd(), env: {} };

async function rate(spec: ModelSpec): Promise<number> {
  const provider = createProvider(spec, env);
  const start = performance.now();
  let generated = 0;
  await forEachConcurrent(
    Array.from({ length: items }, (_, i) => i),
    8,
    async (i) => {
      const g = await provider.generate(
        { messages: [], prompt: `Q: ${i}\nA:`, n: 1, sampleIndices: [0], max_tokens: tokens },
        {
          signal: new AbortController().signal,
          sample: { id: String(i), input: {}, metadata: {} } as Sample,
        },
      );
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

// In process: two embedded tiny GGUF models (the llamacpp provider keeps each model's KV cache and
// evaluates only the tokens after the longest cached prefix, so a switch costs the new tokens only).
const dir = mkdtempSync(join(tmpdir(), "benchline-guided-"));
await writeTinyGguf(join(dir, "base.gguf"));
await writeTinyGguf(join(dir, "oracle.gguf"));
const tiny = (file: string) => ({
  provider: "llamacpp",
  model: join(dir, file),
  mode: "completion",
  threads: 1,
});
async function tinyRate(spec: ModelSpec): Promise<number> {
  const provider = createProvider(spec, env);
  let generated = 0;
  let start = 0;
  for (let i = -1; i < items; i++) {
    if (i === 0) start = performance.now(); // item -1 loads the models
    const g = await provider.generate(
      { messages: [], prompt: `Q${i}: a`, n: 1, sampleIndices: [0], max_tokens: 24, temperature: 0 },
      { signal: new AbortController().signal, sample: { id: String(i), input: {}, metadata: {} } as Sample },
    );
    if (i >= 0) generated += g.usage?.completion_tokens ?? 0;
  }
  await provider.close?.();
  return generated / ((performance.now() - start) / 1000);
}
const { model: _m, provider: _p, ...tinyOptions } = tiny("base.gguf");
const plainSpec: ModelSpec = {
  id: "plain",
  provider: "llamacpp",
  model: join(dir, "base.gguf"),
  params: { temperature: 0 },
  options: tinyOptions,
};
await tinyRate(plainSpec); // warm-up round (JIT, runtime load)
const tinyPlain = await tinyRate(plainSpec);
console.log(
  JSON.stringify({ bench: "guided-llamacpp", config: "plain", tokens_per_s: Math.round(tinyPlain), items }),
);
console.log(`llamacpp plain generation: ${tinyPlain.toFixed(0)} tokens/s (${items} items × 24 tokens)`);
for (const [name, options] of [
  ["guided c=0 step_size=24", { c: 0, k: 0, step_size: 24 }],
  [
    "guided c=3 k=4 step_size=4 positions",
    { c: 3, k: 4, step_size: 4, policy: "positions", positions: [4, 12, 18] },
  ],
  // Token level: one token sequence, each model evaluating only the tokens it has not seen.
  ["token_level c=0", { c: 0, k: 0, token_level: true }],
  [
    "token_level c=3 k=4 step_size=4 positions",
    { c: 3, k: 4, step_size: 4, policy: "positions", positions: [4, 12, 18], token_level: true },
  ],
  [
    "token_level c=12 k=1 step_size=1 positions (24 switches)",
    {
      c: 12,
      k: 1,
      step_size: 1,
      policy: "positions",
      positions: [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23],
      token_level: true,
    },
  ],
] as const) {
  const r = await tinyRate({
    id: "guided",
    provider: "guided",
    params: { temperature: 0 },
    options: { base: tiny("base.gguf"), oracle: tiny("oracle.gguf"), max_new_tokens: 24, ...options },
  });
  const ratio = Number((r / tinyPlain).toFixed(2));
  console.log(
    JSON.stringify({
      bench: "guided-llamacpp",
      config: name,
      tokens_per_s: Math.round(r),
      ratio_to_plain: ratio,
    }),
  );
  console.log(`llamacpp ${name}: ${r.toFixed(0)} tokens/s, ${ratio}× plain`);
}
rmSync(dir, { recursive: true, force: true });
