/**
 * Guided decoding over HTTP: what consulting costs in the text-level mode, where every step is one
 * `/v1/completions` request. Items of `--tokens` tokens against the loopback chain server (same
 * process), 8 items in flight; each configuration reported as tokens/s and as a ratio to plain
 * generation of the same length (one request per item) measured in the same run.
 *
 *   npx tsx bench/guided.ts [--items 200] [--tokens 64]
 */
import { forEachConcurrent, type ModelSpec, type Sample } from "../src/core/index.js";
import { createProvider } from "../src/providers/index.js";
import { startChainServer } from "../src/providers/test-utils/chain-server.js";

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
await rate({ id: "warm", provider: "vllm", model: "base", params: {}, options: entry("base") });
const plain = await rate({
  id: "plain",
  provider: "vllm",
  model: "base",
  params: {},
  options: entry("base"),
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
