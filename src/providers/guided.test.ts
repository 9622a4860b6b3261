import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelSpec, Sample } from "../core/index.js";
import { createGuidedProvider, entropyBits } from "./guided.js";
import { createProvider } from "./index.js";
import { type ChainServer, startChainServer } from "./test-utils/chain-server.js";

let server: ChainServer;
beforeAll(async () => {
  server = await startChainServer({
    base: { prefix: " b" },
    oracle: { prefix: "\nO" },
    "base-eos": { prefix: " b", eosAt: 5 },
    "oracle-eos": { prefix: "\nO", eosAt: 3 },
    "base-unsure": { prefix: " b", uncertainAt: [4] },
    empty: { prefix: " e", empty: true },
  });
});
afterAll(() => server.close());

const entry = (model: string, extra: Record<string, unknown> = {}) => ({
  provider: "vllm",
  model,
  base_url: server.url,
  mode: "completion",
  ...extra,
});

const sample: Sample = { id: "s1", input: {}, metadata: {} } as Sample;

async function run(options: Record<string, unknown>, params: ModelSpec["params"] = {}, samples = [0]) {
  const spec: ModelSpec = {
    id: "guided-test",
    provider: "guided",
    params,
    options: { base: entry("base"), oracle: entry("oracle"), ...options },
  };
  const provider = createProvider(spec, { baseDir: process.cwd(), env: {} });
  const from = server.bodies.length;
  try {
    const generation = await provider.generate(
      { messages: [], prompt: "Q: x\nA:", n: samples.length, sampleIndices: samples },
      { signal: new AbortController().signal, sample },
    );
    const bodies = server.bodies.slice(from);
    const maxTokens = (model: string) => bodies.filter((b) => b.model === model).map((b) => b.max_tokens);
    const completions = generation.completions.map((c) => ({
      text: c.text,
      finish: c.finish_reason,
      ...(c.extras as {
        interleaved: { text: string; model: string; tokens: number }[];
        cheat_positions: number[];
        total_tokens: number;
        guided: Record<"base" | "oracle", { tokens: number }>;
      }),
    }));
    return {
      ...(completions[0] as (typeof completions)[number]),
      completions,
      bodies,
      maxTokens,
      generation,
    };
  } finally {
    await provider.close?.();
  }
}

describe("guided provider over /v1/completions", () => {
  it("positions policy: base steps end on the listed positions, the oracle writes k greedy tokens there", async () => {
    const r = await run({
      c: 2,
      k: 2,
      step_size: 2,
      max_new_tokens: 8,
      policy: "positions",
      positions: [3, 6],
    });
    expect(r.text).toBe(" b0 b1 b2\nO3\nO4 b5\nO6\nO7");
    expect(r.interleaved).toEqual([
      { text: " b0 b1 b2", model: "base", tokens: 3 },
      { text: "\nO3\nO4", model: "oracle", tokens: 2 },
      { text: " b5", model: "base", tokens: 1 },
      { text: "\nO6\nO7", model: "oracle", tokens: 2 },
    ]);
    expect(r.cheat_positions).toEqual([3, 6]);
    expect(r.total_tokens).toBe(8);
    expect(r.finish).toBe("length");
    expect(r.guided.base.tokens).toBe(4);
    expect(r.guided.oracle.tokens).toBe(4);
    expect(r.maxTokens("base")).toEqual([2, 1, 1]);
    expect(r.maxTokens("oracle")).toEqual([2, 2]);
    expect(r.bodies.filter((b) => b.model === "oracle").every((b) => b.temperature === 0)).toBe(true);
    // Both models continue the same prompt plus everything so far, unstripped.
    expect(r.bodies.at(-1)?.prompt).toBe("Q: x\nA: b0 b1 b2\nO3\nO4 b5");
    expect(r.generation.usage?.completion_tokens).toBe(8);
  });

  it("tokens and cost are recorded per model and summed for the row", async () => {
    const r = await run({
      oracle: entry("oracle", { price: { input: 0, output: 1_000_000 } }),
      c: 2,
      k: 2,
      step_size: 2,
      max_new_tokens: 8,
      policy: "positions",
      positions: [3, 6],
    });
    const guided = r.guided as unknown as Record<
      string,
      { tokens: number; cost_usd?: number; usage: unknown }
    >;
    expect(guided.oracle).toEqual({
      tokens: 4,
      usage: { prompt_tokens: expect.any(Number), completion_tokens: 4 },
      cost_usd: 4,
    });
    expect(guided.base?.cost_usd).toBe(0);
    expect(r.generation.cost_usd).toBe(4);
  });

  it("step_size is honoured (regression: the seed script ignored it); c: 0 is base only", async () => {
    const r = await run({ c: 0, k: 5, step_size: 3, max_new_tokens: 7 });
    expect(r.text).toBe(" b0 b1 b2 b3 b4 b5 b6");
    expect(r.maxTokens("base")).toEqual([3, 3, 1]);
    expect(r.maxTokens("oracle")).toEqual([]);
    expect(r.cheat_positions).toEqual([]);
    const k0 = await run({ c: 3, k: 0, step_size: 7, max_new_tokens: 7, policy: "random", p0: 1 });
    expect(k0.text).toBe(r.text);
  });

  it("c: inf is oracle only; k: inf lets the oracle write to the end", async () => {
    const oracleOnly = await run({ c: "inf", k: 2, max_new_tokens: 5 });
    expect(oracleOnly.text).toBe("\nO0\nO1\nO2\nO3\nO4");
    expect(oracleOnly.maxTokens("base")).toEqual([]);
    expect(oracleOnly.cheat_positions).toEqual([0, 2, 4]);
    const rest = await run({ c: 1, k: "inf", max_new_tokens: 6, policy: "positions", positions: [2] });
    expect(rest.interleaved).toEqual([
      { text: " b0 b1", model: "base", tokens: 2 },
      { text: "\nO2\nO3\nO4\nO5", model: "oracle", tokens: 4 },
    ]);
  });

  it("stops at end of sequence from either model (regression: no EOS check)", async () => {
    const base = await run({ base: entry("base-eos"), c: 0, k: 0, step_size: 4, max_new_tokens: 20 });
    expect(base.text).toBe(" b0 b1 b2 b3 b4");
    expect(base.finish).toBe("stop");
    expect(base.total_tokens).toBe(5);
    expect(base.maxTokens("base-eos")).toEqual([4, 4]);
    const oracle = await run({ oracle: entry("oracle-eos"), c: "inf", k: 2, max_new_tokens: 20 });
    expect(oracle.text).toBe("\nO0\nO1\nO2");
    expect(oracle.finish).toBe("stop");
  });

  it("a model that answers with no tokens ends the generation instead of being asked forever", async () => {
    const r = await run({ base: entry("empty"), c: 0, k: 0, max_new_tokens: 50 });
    expect(r.text).toBe("");
    expect(r.finish).toBe("stop");
    expect(r.maxTokens("empty")).toEqual([1]);
  });

  it("a stop string spanning a base and an oracle segment ends the text there", async () => {
    const r = await run(
      { c: 1, k: 2, step_size: 5, max_new_tokens: 10, policy: "positions", positions: [3] },
      { stop: ["b2\nO"] },
    );
    expect(r.text).toBe(" b0 b1 ");
    expect(r.finish).toBe("stop");
    expect(r.interleaved).toEqual([{ text: " b0 b1 ", model: "base", tokens: 3 }]);
    expect(r.bodies.every((b) => JSON.stringify(b.stop) === JSON.stringify(["b2\nO"]))).toBe(true);
  });

  it("random policy: p0 = 1 consults at every decision point until c is spent", async () => {
    const r = await run({ c: 2, k: 1, step_size: 1, max_new_tokens: 5, policy: "random", p0: 1 });
    expect(r.text).toBe("\nO0\nO1 b2 b3 b4");
    expect(r.cheat_positions).toEqual([0, 1]);
  });

  it("random policy: the same seed gives the same run, other seeds other runs; output follows the chains", async () => {
    const options = { c: 3, k: 2, step_size: 1, max_new_tokens: 30, policy: "random" };
    const a = await run(options, { seed: 1 });
    const again = await run(options, { seed: 1 });
    expect(again.text).toBe(a.text);
    expect(again.cheat_positions).toEqual(a.cheat_positions);
    const others = await Promise.all([2, 3, 4, 5].map((seed) => run(options, { seed })));
    expect(others.some((o) => JSON.stringify(o.cheat_positions) !== JSON.stringify(a.cheat_positions))).toBe(
      true,
    );
    for (const r of [a, ...others]) {
      expect(r.cheat_positions.length).toBe(3); // p(i) ≥ 0.3 over 30 decision points: c is spent
      // Rebuild the expected text from the chains and the consultation points.
      let expected = "";
      for (let i = 0; i < 30; ) {
        if (r.cheat_positions.includes(i)) {
          expected += `\nO${i}\nO${i + 1}`;
          i += 2;
        } else expected += ` b${i++}`;
      }
      expect(r.text).toBe(expected);
      expect(r.interleaved.map((s) => s.text).join("")).toBe(r.text);
    }
  });

  it("entropy policy: consults where the base model's next-token entropy exceeds the threshold", async () => {
    const r = await run({
      base: entry("base-unsure"),
      c: 1,
      k: 2,
      step_size: 3,
      max_new_tokens: 9,
      policy: "entropy",
      threshold: 1,
    });
    expect(r.text).toBe(" b0 b1 b2 b3\nO4\nO5 b6 b7 b8");
    expect(r.cheat_positions).toEqual([4]);
    // Logprobs are asked for only while the oracle can still be consulted.
    const unsure = r.bodies.filter((b) => b.model === "base-unsure");
    expect(unsure.map((b) => b.logprobs)).toEqual([5, 5, undefined]);
    expect(
      entropyBits([{ logprob: Math.log(0.25) }, { logprob: Math.log(0.25) }, { logprob: Math.log(0.5) }]),
    ).toBeCloseTo(1.5);
  });

  it("guided models naming the same base or oracle share one provider, closed by the last user", async () => {
    const env = { baseDir: process.cwd(), env: {} };
    let made = 0;
    let closed = 0;
    const createSub = (sub: ModelSpec, e: typeof env) => {
      made++;
      const p = createProvider(sub, e);
      return {
        ...p,
        id: p.id,
        generate: p.generate.bind(p),
        close: async () => {
          closed++;
          await p.close?.();
        },
      };
    };
    const make = (id: string, c: number) =>
      createGuidedProvider(
        {
          id,
          provider: "guided",
          params: {},
          options: { base: entry("base"), oracle: entry("oracle"), c, k: 1, max_new_tokens: 2 },
        },
        env,
        createSub,
      );
    const a = make("a", 1);
    const b = make("b", 0);
    expect(made).toBe(2); // one base, one oracle for both
    await a.close?.();
    expect(closed).toBe(0);
    const out = await b.generate(
      { messages: [], prompt: "Q: x\nA:", n: 1, sampleIndices: [0] },
      { signal: new AbortController().signal, sample },
    );
    expect(out.completions[0]?.text).toBe(" b0 b1");
    await b.close?.();
    expect(closed).toBe(2);
  });

  it("each sample of a request gets its own run", async () => {
    const r = await run({ c: 3, k: 2, max_new_tokens: 20, policy: "random" }, { seed: 7 }, [0, 1, 2]);
    expect(r.completions).toHaveLength(3);
    for (const c of r.completions) expect(c.total_tokens).toBe(20);
  });
});

describe("guided configuration errors, before anything runs", () => {
  const make = (options: Record<string, unknown>) => () =>
    createProvider(
      { id: "g1", provider: "guided", params: {}, options: { max_new_tokens: 5, c: 1, k: 1, ...options } },
      { baseDir: process.cwd(), env: {} },
    );
  const base = { provider: "vllm", model: "b", base_url: "http://127.0.0.1:9/v1" };
  it("a missing base or oracle names the entry", () => {
    expect(make({ base })).toThrow(/model "g1": guided needs "oracle"/);
  });
  it("a chat-only base or oracle is refused", () => {
    expect(make({ base: { ...base, mode: "chat" }, oracle: base })).toThrow(
      /model "g1": base: .*mode: chat.*needs mode: completion/,
    );
    expect(make({ base, oracle: "gold" })).toThrow(
      /model "g1": oracle: "gold" \(provider gold\) cannot continue a raw prompt/,
    );
  });
  it("policy settings must match the policy", () => {
    expect(make({ base, oracle: base, policy: "entropy" })).toThrow(
      /threshold: policy entropy needs a threshold/,
    );
    expect(make({ base, oracle: base, policy: "positions", p0: 0.5, positions: [1] })).toThrow(
      /p0: only applies to policy: random/,
    );
    expect(make({ base, oracle: base, c: -1 })).toThrow(/model "g1": c/);
    expect(() =>
      createProvider(
        {
          id: "g1",
          provider: "guided",
          params: { top_logprobs: 3 },
          options: { max_new_tokens: 5, c: 1, k: 1, base, oracle: base },
        },
        { baseDir: process.cwd(), env: {} },
      ),
    ).toThrow(/top_logprobs only applies to policy: entropy/);
  });
  it("a base or oracle model the registry cannot create is named", () => {
    expect(make({ base, oracle: { provider: "llamacpp", model: "missing.gguf" } })).toThrow(
      /model "g1": oracle: .*not found/,
    );
  });
});
